//! The one typed configuration: serde defaults (the dev profile), then an optional TOML file, then
//! `BEEBOX_*` environment variables with `__` for nesting. It is validated once at start-up and
//! never prints a secret. Each `[section]` lives in its own file with its defaults and checks.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod agents;
mod auth;
mod catalog;
mod courier;
mod database;
mod jobs;
mod keys;
mod log;
mod mail;
mod notifications;
mod ops;
mod problems;
mod rate_limits;
mod retention;
mod review;
mod secret;
mod server;
mod storage;
mod times;
mod uploads;
mod wechat;

pub use agents::AgentsConfig;
pub use auth::AuthConfig;
pub use catalog::CatalogConfig;
pub use courier::{CentreConfig, CourierConfig, EmsConfig, PARTNER_CODES, SfConfig};
pub use database::DatabaseConfig;
pub use jobs::JobsConfig;
pub use keys::KeysConfig;
pub use log::{LogConfig, LogFormat};
pub use mail::{MailBackend, MailConfig, SmtpConfig, SmtpTls};
pub use notifications::NotificationsConfig;
pub use ops::OpsConfig;
use problems::Problems;
pub use problems::{ConfigError, ConfigProblem, env_name};
pub use rate_limits::{RateLimit, RateLimitsConfig};
pub use retention::RetentionConfig;
pub use review::ReviewConfig;
pub use secret::Secret;
pub use server::ServerConfig;
pub use storage::{FsStorageConfig, S3StorageConfig, StorageBackend, StorageConfig};
pub use times::{parse_local_time, parse_slot, parse_utc_offset};
pub use uploads::UploadsConfig;
pub use wechat::{MessageTemplate, SubscribeConfig, WechatConfig};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub profile: Profile,
    /// Where dev keeps its SQLite file, objects, generated keys and mail.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub keys: KeysConfig,
    pub catalog: CatalogConfig,
    pub auth: AuthConfig,
    pub wechat: WechatConfig,
    pub uploads: UploadsConfig,
    pub review: ReviewConfig,
    pub agents: AgentsConfig,
    /// The service centre's local time as a UTC offset (China: `+08:00`); schedules use it.
    pub local_utc_offset: String,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    pub notifications: NotificationsConfig,
    pub courier: CourierConfig,
    pub rate_limits: RateLimitsConfig,
    pub retention: RetentionConfig,
    pub ops: OpsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::Dev,
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            keys: KeysConfig::default(),
            catalog: CatalogConfig::default(),
            auth: AuthConfig::default(),
            wechat: WechatConfig::default(),
            uploads: UploadsConfig::default(),
            review: ReviewConfig::default(),
            agents: AgentsConfig::default(),
            local_utc_offset: "+08:00".into(),
            jobs: JobsConfig::default(),
            mail: MailConfig::default(),
            notifications: NotificationsConfig::default(),
            courier: CourierConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            retention: RetentionConfig::default(),
            ops: OpsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Dev,
    Prod,
}

impl Config {
    /// Reads defaults, then `file` (when given), then the `BEEBOX_*` environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        // The defaults are a provider, not only serde's: figment then merges a file or an
        // environment variable into them key by key, so setting one template's id keeps its
        // field mapping and every other event's template. (serde's `default` would replace the
        // whole map as soon as one key of it is given.)
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Malformed(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let env = Env::prefixed("BEEBOX_")
            .split("__")
            // BEEBOX_CONFIG names the file; BEEBOX_TEST_* belong to the test harness.
            .filter(|key| {
                key != "config" && !key.as_str().to_ascii_lowercase().starts_with("test_")
            });
        let mut config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Malformed(describe_figment_error(e)))?;
        config.courier.take_old_names();
        config.validate()?;
        Ok(config)
    }

    /// Every section checks itself, and in prod refuses the dev defaults that must not remain.
    /// The problems are collected, so one refusal lists them all.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let profile = self.profile;
        self.server.validate(profile, &mut problems);
        self.database.validate(profile, &mut problems);
        self.storage.validate(profile, &mut problems);
        self.keys.validate(profile, &mut problems);
        self.catalog.validate(profile, &mut problems);
        self.auth.validate(profile, &mut problems);
        self.wechat.validate(profile, &mut problems);
        self.uploads.validate(&mut problems);
        self.review.validate(&mut problems);
        self.retention.validate(&mut problems);
        self.agents.validate(&mut problems);
        if parse_utc_offset(&self.local_utc_offset).is_none() {
            problems.add("local_utc_offset", "must look like +08:00");
        }
        self.jobs.validate(&mut problems);
        self.mail.validate(profile, &mut problems);
        self.notifications.validate(&mut problems);
        self.courier.validate(profile, &mut problems);
        self.rate_limits.validate(&mut problems);
        self.ops.validate(profile, &mut problems);
        problems.into_result()
    }

    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_string(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("beebox.sqlite").display()
            ),
        }
    }

    pub fn fs_root(&self) -> PathBuf {
        self.storage
            .fs
            .root
            .clone()
            .unwrap_or_else(|| self.data_dir.join("objects"))
    }

    /// `server.public_url`, or in dev the address we listen on (`port` is the bound one, which
    /// differs from `server.port` when that is 0).
    pub fn public_url(&self, port: u16) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None if self.server.host.is_unspecified() => format!("http://localhost:{port}"),
            None => format!("http://{}:{port}", self.server.host),
        }
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.mail
            .file_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }

    /// `local_utc_offset`, checked by `validate`.
    pub fn local_offset(&self) -> chrono::FixedOffset {
        parse_utc_offset(&self.local_utc_offset).unwrap_or_else(|| {
            chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
        })
    }

    pub fn dev_login_enabled(&self) -> bool {
        self.auth.dev_login.unwrap_or(self.profile == Profile::Dev)
    }

    pub fn seed_catalog_on_empty(&self) -> bool {
        self.catalog
            .seed_on_empty
            .unwrap_or(self.profile == Profile::Dev)
    }

    /// The effective configuration as TOML, secrets redacted: what `beebox check-config` prints.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// figment names the key and the source; we add the env name an operator would set.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                e.to_string()
            } else {
                format!("{key} ({}): {}", env_name(&key), e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
