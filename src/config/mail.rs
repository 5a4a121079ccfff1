//! `[mail]`: how staff email leaves, as `.eml` files in dev or over SMTP. Prod refuses the
//! file backend, which would write mail nobody reads.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailBackend {
    /// Writes each message as an `.eml` file (dev).
    #[default]
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on loopback or a trusted network only).
    None,
    /// STARTTLS on the submission port (587).
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Tls,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub backend: MailBackend,
    /// The From header, e.g. `Beebox <noreply@example.gov.cn>`.
    pub from: String,
    /// Where the file backend writes. Unset: `data_dir/mail`.
    pub file_dir: Option<PathBuf>,
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            backend: MailBackend::File,
            from: "Beebox <noreply@beebox.localhost>".into(),
            file_dir: None,
            smtp: SmtpConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            timeout_secs: 10,
        }
    }
}

impl MailConfig {
    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            problems.add(
                "mail.from",
                "must be an address such as `Beebox <noreply@example.org>`",
            );
        }
        if profile == Profile::Prod && self.backend == MailBackend::File {
            problems.add(
                "mail.backend",
                "prod refuses the file backend; configure smtp",
            );
        }
    }
}
