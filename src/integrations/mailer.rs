//! Sends plain-text UTF-8 email over SMTP, or in dev writes each message as an `.eml` file.
//! It sorts every failure into "retry later" or "give up" so the job queue can decide; it never
//! logs a recipient's address or a credential, not even inside an error message.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, MailBackend, SmtpTls};

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Arc<Transport>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// e.g. "<0192...-email@beebox>": stable per event so a resend is recognisable
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail not sent yet: {0}")]
    Transient(String),
    #[error("mail refused: {0}")]
    Permanent(String),
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match *self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
        };
        f.debug_struct("Mailer").field("backend", &backend).finish()
    }
}

impl Mailer {
    /// Builds the transport from `config.mail`; the file backend creates its directory.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mail = &config.mail;
        let from: Mailbox = mail
            .from
            .parse()
            .context("mail.from is not an address such as `Beebox <noreply@example.org>`")?;
        let transport = match mail.backend {
            MailBackend::File => {
                let dir = config.mail_dir();
                std::fs::create_dir_all(&dir).with_context(|| {
                    format!("cannot create the mail directory {}", dir.display())
                })?;
                Transport::File(AsyncFileTransport::new(dir))
            }
            MailBackend::Smtp => {
                let smtp = &mail.smtp;
                let mut builder = match smtp.tls {
                    // Plain text on the wire: only for a relay on loopback or a trusted network.
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                    SmtpTls::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                            .context("mail.smtp: cannot set up STARTTLS")?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                        .context("mail.smtp: cannot set up TLS")?,
                }
                .port(smtp.port)
                .timeout(Some(Duration::from_secs(smtp.timeout_secs.max(1))));
                if let Some(username) = &smtp.username {
                    let password = smtp
                        .password
                        .as_ref()
                        .map(|p| p.expose().to_string())
                        .unwrap_or_default();
                    builder = builder.credentials(Credentials::new(username.clone(), password));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self {
            from,
            transport: Arc::new(transport),
        })
    }

    /// Sends one message. Transient = worth retrying (connection refused, timeout, 4xx reply);
    /// Permanent = retrying cannot help (5xx reply such as a refused recipient, an address that does not parse).
    #[tracing::instrument(skip_all, err(Display))]
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = self.build(mail)?;
        match &*self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(drop)
                .map_err(|e| classify_smtp(&e)),
            // A local write that failed (disk full, permissions) may well work next time.
            Transport::File(file) => file
                .send(message)
                .await
                .map(drop)
                .map_err(|e| MailError::Transient(format!("cannot write the .eml file: {e}"))),
        }
    }

    fn build(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        if mail.to.is_empty() {
            return Err(MailError::Permanent("the message has no recipient".into()));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.as_str())
            .header(ContentType::TEXT_PLAIN);
        // An empty id lets lettre make one up; a caller-chosen one marks resends of one event.
        if !mail.message_id.is_empty() {
            builder = builder.message_id(Some(mail.message_id.clone()));
        }
        for (index, address) in mail.to.iter().enumerate() {
            // The address itself stays out of the message: errors end up in logs.
            let mailbox: Mailbox = address.trim().parse().map_err(|_| {
                MailError::Permanent(format!("recipient #{} is not an email address", index + 1))
            })?;
            builder = builder.to(mailbox);
        }
        builder
            .body(mail.body.clone())
            .map_err(|e| MailError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// 5xx replies are final; everything else (4xx, refused or dropped connections, timeouts, TLS
/// trouble that a config fix or a recovered server may cure) is worth another try.
fn classify_smtp(error: &lettre::transport::smtp::Error) -> MailError {
    let text = redact_addresses(&error.to_string());
    if error.is_permanent() {
        MailError::Permanent(text)
    } else {
        MailError::Transient(text)
    }
}

/// Servers like to quote the recipient back (`550 <a@b.c>: no such user`); such a reply must not
/// carry the address into a log line, so every word with an `@` in it is replaced.
fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "[address]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_mailer(dir: &std::path::Path) -> Mailer {
        let mut config = Config::default();
        config.mail.file_dir = Some(dir.to_path_buf());
        Mailer::from_config(&config).expect("file mailer builds")
    }

    fn mail(to: &[&str]) -> OutgoingMail {
        OutgoingMail {
            to: to.iter().map(|s| s.to_string()).collect(),
            subject: "受理通知".into(),
            body: "您好，您的申请已受理。".into(),
            message_id: "<test-1@beebox>".into(),
        }
    }

    #[test]
    fn replies_quoting_an_address_are_redacted() {
        let text = "permanent error (550): 5.1.1 <zhang.san@example.com>: no such user";
        let redacted = redact_addresses(text);
        assert!(!redacted.contains("zhang.san"), "{redacted}");
        assert!(redacted.contains("no such user"));
        assert!(redacted.contains("550"));
    }

    #[tokio::test]
    async fn an_address_that_does_not_parse_is_permanent_and_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let error = file_mailer(dir.path())
            .send(&mail(&["ok@example.com", "not an address"]))
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
        let text = error.to_string();
        assert!(text.contains("#2"), "{text}");
        assert!(!text.contains("not an address"), "{text}");
    }

    #[tokio::test]
    async fn no_recipient_is_permanent() {
        let dir = tempfile::tempdir().unwrap();
        let error = file_mailer(dir.path()).send(&mail(&[])).await.unwrap_err();
        assert!(matches!(error, MailError::Permanent(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        // Bind then drop: the port is closed for the moment the test needs.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = Config::default();
        config.mail.backend = MailBackend::Smtp;
        config.mail.smtp.host = "127.0.0.1".into();
        config.mail.smtp.port = port;
        config.mail.smtp.tls = SmtpTls::None;
        config.mail.smtp.timeout_secs = 2;
        let mailer = Mailer::from_config(&config).unwrap();
        let error = mailer.send(&mail(&["a@example.com"])).await.unwrap_err();
        assert!(matches!(error, MailError::Transient(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_5xx_reply_is_permanent_and_a_4xx_reply_transient() {
        for (reply, permanent) in [
            ("550 5.1.1 <x@example.com> no such user", true),
            ("451 4.3.0 try later", false),
        ] {
            let port = one_shot_smtp_server(reply).await;
            let mut config = Config::default();
            config.mail.backend = MailBackend::Smtp;
            config.mail.smtp.host = "127.0.0.1".into();
            config.mail.smtp.port = port;
            config.mail.smtp.tls = SmtpTls::None;
            config.mail.smtp.timeout_secs = 5;
            let mailer = Mailer::from_config(&config).unwrap();
            let error = mailer.send(&mail(&["x@example.com"])).await.unwrap_err();
            assert_eq!(
                matches!(error, MailError::Permanent(_)),
                permanent,
                "{reply}: {error:?}"
            );
            assert!(!error.to_string().contains("x@example.com"), "{error}");
        }
    }

    /// A minimal SMTP server that accepts the greeting and MAIL FROM, then answers RCPT TO with
    /// `rcpt_reply`. The real-server tests live in tests/api/mail.rs; this one exists because
    /// maildev cannot be told to refuse a recipient.
    async fn one_shot_smtp_server(rcpt_reply: &'static str) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let command = line.to_ascii_uppercase();
                let reply = if command.starts_with("EHLO") || command.starts_with("HELO") {
                    "250 test"
                } else if command.starts_with("MAIL FROM") {
                    "250 ok"
                } else if command.starts_with("RCPT TO") {
                    rcpt_reply
                } else if command.starts_with("QUIT") {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                } else {
                    "250 ok"
                };
                if write
                    .write_all(format!("{reply}\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        port
    }
}
