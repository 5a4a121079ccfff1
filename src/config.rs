//! The one typed configuration: serde defaults (the dev profile), then an optional TOML file, then
//! `BEEBOX_*` environment variables with `__` for nesting. It is validated once at start-up and
//! never prints a secret.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

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
    /// The service centre's local time as a UTC offset (China: `+08:00`); schedules use it.
    pub local_utc_offset: String,
    pub jobs: JobsConfig,
    pub mail: MailConfig,
    pub notifications: NotificationsConfig,
    pub courier: CourierConfig,
    pub rate_limits: RateLimitsConfig,
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
            local_utc_offset: "+08:00".into(),
            jobs: JobsConfig::default(),
            mail: MailConfig::default(),
            notifications: NotificationsConfig::default(),
            courier: CourierConfig::default(),
            rate_limits: RateLimitsConfig::default(),
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub host: IpAddr,
    pub port: u16,
    /// The address clients reach us at; used to build signed object URLs.
    pub public_url: Option<String>,
    /// Largest request body accepted outside the upload routes, in bytes.
    pub body_limit_bytes: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// Take the client address for the audit log from `X-Forwarded-For` (behind a proxy you run).
    pub trust_forwarded_for: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            public_url: None,
            body_limit_bytes: 1024 * 1024,
            shutdown_grace_secs: 30,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info,beebox=debug`. `RUST_LOG` overrides it.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info,sqlx=warn,sea_orm=warn,aws=warn".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH?mode=rwc` or `postgres://...`. Unset: a SQLite file under `data_dir`.
    pub url: Option<Secret>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout_secs: u64,
    pub acquire_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// Longest pause between connection attempts while the database is unreachable at start-up.
    pub retry_max_backoff_secs: u64,
    /// How long `beebox migrate` keeps retrying an unreachable database before giving up.
    pub migrate_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            min_connections: 1,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 5,
            sqlite_busy_timeout_ms: 5_000,
            retry_max_backoff_secs: 30,
            migrate_timeout_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Fs,
    S3,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Longest lifetime a presigned URL may be given.
    pub presign_max_ttl_secs: u64,
    pub fs: FsStorageConfig,
    pub s3: S3StorageConfig,
    /// Objects under page, result and upload keys with no row that names them are deleted once
    /// they are this old (what a crash between storing and recording leaves behind).
    pub orphan_grace_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            presign_max_ttl_secs: 3600,
            fs: FsStorageConfig::default(),
            s3: S3StorageConfig::default(),
            orphan_grace_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FsStorageConfig {
    /// Unset: `data_dir/objects`.
    pub root: Option<PathBuf>,
    /// Below this much free space on the root's filesystem, writes are refused (503) and
    /// `/readyz` reports storage as failing. 0 turns the check off.
    pub min_free_bytes: u64,
}

impl Default for FsStorageConfig {
    fn default() -> Self {
        Self {
            root: None,
            min_free_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3StorageConfig {
    /// Unset: AWS's own endpoint for the region.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: Option<String>,
    /// Path-style addressing, as MinIO, Garage and Ceph usually need.
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Prefix put before every object key, e.g. `beebox/`.
    pub key_prefix: String,
    /// Objects larger than this go up as a multipart upload, in parts of this size.
    pub part_size_bytes: usize,
}

impl Default for S3StorageConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            key_prefix: String::new(),
            part_size_bytes: 8 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// Ed25519 private key (PKCS#8 PEM) that signs access tokens. Unset in dev: generated.
    pub jwt_private_key: Option<Secret>,
    /// At least 32 bytes of secret (hex or text) for signing object URLs. Unset in dev: generated.
    pub url_signing_key: Option<Secret>,
    /// 64 hex characters (32 bytes): the AES-256-GCM key that encrypts ID numbers at rest.
    /// Unset in dev: generated.
    pub data_encryption_key: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT).
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token; each use rotates it.
    pub refresh_ttl_secs: u64,
    /// Accept `dev:NAME` as a WeChat login code without calling WeChat. Unset: on in dev only.
    pub dev_login: Option<bool>,
    /// Failed staff logins (per username, within `login_lock_secs`) that lock it.
    pub login_lock_after: u32,
    /// How long a locked username stays locked.
    pub login_lock_secs: u64,
    /// Failed staff logins of one username from every address but its desk (within
    /// `login_global_lock_secs`) that hold it back everywhere but the desk.
    pub login_global_lock_after: u32,
    /// How long that per-username back-off lasts.
    pub login_global_lock_secs: u64,
    /// How often an instance re-reads the revoked sessions: the most a logged-out or revoked
    /// access token keeps working elsewhere.
    pub revocation_refresh_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            dev_login: None,
            login_lock_after: 5,
            login_lock_secs: 15 * 60,
            login_global_lock_after: 20,
            login_global_lock_secs: 5 * 60,
            revocation_refresh_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WechatConfig {
    /// Base URL of the WeChat server API; tests point it at a local server.
    pub api_base: String,
    /// The mini-program's AppID.
    pub app_id: Option<String>,
    /// The mini-program's AppSecret.
    pub app_secret: Option<Secret>,
    pub timeout_ms: u64,
    pub subscribe: SubscribeConfig,
}

impl Default for WechatConfig {
    fn default() -> Self {
        Self {
            api_base: "https://api.weixin.qq.com".into(),
            app_id: None,
            app_secret: None,
            timeout_ms: 5_000,
            subscribe: SubscribeConfig::default(),
        }
    }
}

/// Subscribe messages (订阅消息) to citizens: one template per event.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscribeConfig {
    /// `formal`, `trial` or `developer`: which build of the mini-program the message opens.
    pub miniprogram_state: String,
    /// The page a message opens; `{application_id}` is replaced.
    pub page: String,
    /// Refresh the shared access token this long before it expires.
    pub token_refresh_margin_secs: u64,
    /// Per event (`submitted`, `returned`, `rejected`, `prereview_passed`, `originals_in_transit`,
    /// `received`, `refused`, `result_in_delivery`, `completed`): the template id
    /// and what goes in each of its fields. An event without a template id sends no message.
    /// A file or the environment merges into the defaults per event and per field; a field set
    /// to `""` is left out of the message.
    pub templates: BTreeMap<String, MessageTemplate>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MessageTemplate {
    pub template_id: Option<String>,
    /// Template field (`thing1`, `time2`, ...) -> value, with `{matter_name}`, `{status}`,
    /// `{time}`, `{reason}`, `{application_no}`, `{waybill_no}` replaced. Values are cut to the field type's limit.
    pub fields: BTreeMap<String, String>,
}

impl MessageTemplate {
    /// The fields that go into a message: those not blanked out with `""`.
    pub fn data_fields(&self) -> impl Iterator<Item = (&String, &String)> {
        self.fields
            .iter()
            .filter(|(_, pattern)| !pattern.is_empty())
    }
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        let fields = |pairs: &[(&str, &str)]| MessageTemplate {
            template_id: None,
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let standard = [
            ("thing1", "{matter_name}"),
            ("character_string2", "{application_no}"),
            ("phrase3", "{status}"),
            ("time4", "{time}"),
            ("thing5", "{reason}"),
        ];
        let templates = crate::domain::application::ALL_STATES
            .into_iter()
            .filter_map(|state| state.citizen_event())
            .map(|event| (event.to_string(), fields(&standard)))
            .collect();
        Self {
            miniprogram_state: "formal".into(),
            page: "pages/application/detail?id={application_id}".into(),
            token_refresh_margin_secs: 300,
            templates,
        }
    }
}

/// The durable job queue and its worker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Run the worker (and the scheduler) in this instance; `serve --no-worker` turns it off.
    pub worker: bool,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_ms: u64,
    /// How long a claimed job is held; a job whose worker died is taken again after this.
    pub lease_secs: u64,
    /// Attempts before a job goes dead, for kinds that do not set their own.
    pub max_attempts: i32,
    /// First retry delay; each retry doubles it (with jitter) up to `backoff_max_secs`.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// Finished jobs are deleted after this long.
    pub keep_done_hours: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            worker: true,
            concurrency: 4,
            poll_ms: 500,
            lease_secs: 60,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_secs: 3_600,
            keep_done_hours: 72,
        }
    }
}

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

/// The courier legs: pickup windows, the service centre's own address, tracking upkeep.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CourierConfig {
    /// The partner new orders go to (`sf`).
    pub partner: String,
    /// Pickup windows offered each day, `HH:MM-HH:MM` in `local_utc_offset` time.
    pub pickup_slots: Vec<String>,
    /// How many days ahead pickups can be booked (today counts when a window is still ahead).
    pub pickup_days: u32,
    /// An open shipment with no route event for this long is queried at the partner.
    pub reconcile_after_hours: u64,
    /// How often reconciliation runs.
    pub reconcile_every_secs: u64,
    /// Route pushes written at once by this instance, each transaction taking every push queued
    /// meanwhile (group commit).
    pub push_writers: usize,
    /// An open shipment with no movement for this long is listed as a problem.
    pub stuck_after_hours: u64,
    /// A delivered result the citizen has not confirmed is confirmed after this long.
    pub auto_confirm_hours: u64,
    /// Local times (`HH:MM`) at which received originals leave for their department in a batch.
    pub dispatch_cutoffs: Vec<String>,
    /// Send originals back by courier when reception finds they do not match the photos
    /// (otherwise the centre keeps them for the citizen to collect).
    pub return_originals_on_mismatch: bool,
    /// The service centre: where originals go, and where results leave from.
    pub centre: CentreConfig,
    pub sf: SfConfig,
}

impl Default for CourierConfig {
    fn default() -> Self {
        Self {
            partner: "sf".into(),
            pickup_slots: vec![
                "09:00-12:00".into(),
                "12:00-15:00".into(),
                "15:00-18:00".into(),
            ],
            pickup_days: 7,
            reconcile_after_hours: 4,
            reconcile_every_secs: 900,
            // Two keep the CPU a push costs low (batches of about 2.3 under 8 connections) and
            // ran fastest on the 2-core machines measured (docs/benchmarks/webhook.md).
            push_writers: 2,
            stuck_after_hours: 48,
            auto_confirm_hours: 72,
            dispatch_cutoffs: vec!["10:00".into(), "16:00".into()],
            return_originals_on_mismatch: true,
            centre: CentreConfig::default(),
            sf: SfConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CentreConfig {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

impl Default for CentreConfig {
    fn default() -> Self {
        Self {
            name: "政务服务中心收件室".into(),
            phone: "057187000000".into(),
            province: "浙江省".into(),
            city: "杭州市".into(),
            district: "西湖区".into(),
            detail: "文三路 1 号政务服务中心 1 楼".into(),
        }
    }
}

/// SF Express open platform (顺丰开放平台).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SfConfig {
    /// The API endpoint, e.g. `https://sfapi.sf-express.com/std/service` (sandbox:
    /// `https://sfapi-sbox.sf-express.com/std/service`). Unset in dev: the built-in simulator.
    pub api_base: Option<String>,
    /// 顾客编码 (partnerID). Unset in dev: the simulator's.
    pub partner_id: Option<String>,
    /// 校验码 (checkWord) that signs requests and pushes. Unset in dev: the simulator's.
    pub check_word: Option<Secret>,
    /// Our own secret in the push URL (`?secret=`) or `X-Beebox-Webhook-Secret`. Unset in dev:
    /// the simulator's.
    pub webhook_secret: Option<Secret>,
    /// 月结卡号, when the centre pays monthly.
    pub monthly_card: Option<String>,
    /// 快件产品类别 (expressTypeId); 1 is 顺丰特快.
    pub express_type_id: u32,
    pub timeout_ms: u64,
    /// How fast the dev simulator moves a parcel along its route, per step.
    pub sim_step_ms: u64,
    /// The dev simulator collects at once instead of waiting for the booked pickup window.
    pub sim_skip_pickup_wait: bool,
    /// A signed push whose `timestamp` is further than this from our clock (either way) is
    /// refused as stale, so a captured push cannot be replayed later.
    pub push_max_age_secs: u64,
}

impl Default for SfConfig {
    fn default() -> Self {
        Self {
            api_base: None,
            partner_id: None,
            check_word: None,
            webhook_secret: None,
            monthly_card: None,
            express_type_id: 1,
            timeout_ms: 5_000,
            sim_step_ms: 3_000,
            sim_skip_pickup_wait: false,
            push_max_age_secs: 900,
        }
    }
}

/// Staff alerts by email, and their schedule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Local times (`HH:MM`, in `local_utc_offset`) at which each department's reviewers get a
    /// digest of the submissions since the last one.
    pub digest_times: Vec<String>,
    /// How often overdue pre-reviews are looked for (each case alerts once).
    pub sla_check_secs: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            digest_times: vec!["09:00".into(), "15:00".into()],
            sla_check_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// How long a reviewer's claim on a case lasts without activity.
    pub claim_lease_secs: u64,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            claim_lease_secs: 30 * 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Largest single page, enforced while streaming.
    pub max_page_bytes: u64,
    /// Most pages one application may hold, over all its materials.
    pub max_pages_per_application: u32,
    /// Photos declaring more pixels than this are refused before decoding.
    pub max_pixels: u64,
    /// Photos declaring a side longer than this are refused before decoding.
    pub max_dimension: u32,
    /// How long a presigned upload (path B) may be completed.
    pub direct_upload_ttl_secs: u64,
    /// Open (neither completed nor expired) direct-upload tickets one application may hold.
    pub max_open_tickets_per_application: u32,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            max_page_bytes: 20 * 1024 * 1024,
            max_pages_per_application: 100,
            max_pixels: 80_000_000,
            max_dimension: 20_000,
            direct_upload_ttl_secs: 900,
            max_open_tickets_per_application: 20,
        }
    }
}

/// One rate limit: `per_minute` requests a minute on average per key, with bursts of up to
/// `burst` at once. `per_minute = 0` turns it off. The defaults are the type's parameters, so a
/// setting that gives only one of the two keeps the other's default (serde's derive cannot see
/// them, hence the impls by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit<const PER_MINUTE: u32, const BURST: u32> {
    pub per_minute: u32,
    pub burst: u32,
}

/// A `RateLimit` as written in the file or the environment.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFields {
    per_minute: Option<u32>,
    burst: Option<u32>,
}

impl<'de, const PER_MINUTE: u32, const BURST: u32> Deserialize<'de>
    for RateLimit<PER_MINUTE, BURST>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let given = RateLimitFields::deserialize(deserializer)?;
        Ok(Self::new(
            given.per_minute.unwrap_or(PER_MINUTE),
            given.burst.unwrap_or(BURST),
        ))
    }
}

impl<const PER_MINUTE: u32, const BURST: u32> Serialize for RateLimit<PER_MINUTE, BURST> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RateLimitFields {
            per_minute: Some(self.per_minute),
            burst: Some(self.burst),
        }
        .serialize(serializer)
    }
}

impl<const PER_MINUTE: u32, const BURST: u32> Default for RateLimit<PER_MINUTE, BURST> {
    fn default() -> Self {
        Self::new(PER_MINUTE, BURST)
    }
}

impl<const PER_MINUTE: u32, const BURST: u32> RateLimit<PER_MINUTE, BURST> {
    pub const fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    /// `(per_minute, burst)`.
    pub const fn pair(&self) -> (u32, u32) {
        (self.per_minute, self.burst)
    }
}

/// Rate limits, counted in each instance's memory (they multiply with the instances). The
/// defaults are generous for people (a 100-page application goes up in one go; a mobile
/// carrier's NAT puts many citizens behind one address) and tight enough to stop scripted floods.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Citizen logins (`/v1/auth/wechat`) from one client address.
    pub citizen_login_per_ip: RateLimit<600, 300>,
    /// Logins of one citizen (WeChat openid).
    pub citizen_login_per_account: RateLimit<20, 10>,
    /// Staff logins from one client address.
    pub staff_login_per_ip: RateLimit<60, 30>,
    /// Staff logins for one username, existing or not.
    pub staff_login_per_account: RateLimit<20, 20>,
    /// New applications (drafts) of one citizen.
    pub applications_per_citizen: RateLimit<30, 20>,
    /// Presigned upload tickets of one citizen.
    pub upload_tickets_per_citizen: RateLimit<120, 120>,
    /// Pages one citizen uploads through the service.
    pub page_uploads_per_citizen: RateLimit<120, 120>,
    /// Courier pushes from one client address, counted before any signature work.
    pub webhook_per_ip: RateLimit<120_000, 2_000>,
}

/// Operators' endpoints: who may read `/metrics` and `/readyz`'s details.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OpsConfig {
    /// A bearer token for operators. With it `/readyz` says why a part failed; when set,
    /// `/metrics` on the main port asks for it.
    pub token: Option<Secret>,
    /// Serve `/metrics` on this separate address (e.g. `127.0.0.1:9090`) and not on the main
    /// port.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl OpsConfig {
    /// Whether `presented` is the configured token. Compares digests, so the time taken says
    /// nothing about how much of the token matched.
    pub fn token_matches(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.token.as_ref().is_some_and(|token| {
            Sha256::digest(token.expose().as_bytes()) == Sha256::digest(presented.as_bytes())
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Load the built-in sample catalogue when the database has no items. Unset: on in dev only.
    pub seed_on_empty: Option<bool>,
}

/// A secret setting: deserialises like a string, never prints or serialises its value.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// A start-up refusal: every problem found, each naming its key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Malformed(String),
    #[error("{}", list_problems(.0))]
    Invalid(Vec<ConfigProblem>),
}

#[derive(Debug, Clone)]
pub struct ConfigProblem {
    pub key: &'static str,
    pub message: String,
}

fn list_problems(problems: &[ConfigProblem]) -> String {
    let mut out = format!("configuration refused ({} problem(s)):", problems.len());
    for p in problems {
        out.push_str(&format!(
            "\n  - {} ({}): {}",
            p.key,
            env_name(p.key),
            p.message
        ));
    }
    out
}

/// `storage.s3.bucket` -> `BEEBOX_STORAGE__S3__BUCKET`.
pub fn env_name(key: &str) -> String {
    format!("BEEBOX_{}", key.replace('.', "__").to_uppercase())
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
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Malformed(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks that hold in every profile, then the ones prod adds: no dev default may remain.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |key: &'static str, message: &str| {
            problems.push(ConfigProblem {
                key,
                message: message.to_string(),
            })
        };
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problem("server.public_url", "must start with http:// or https://");
        }
        if self.server.body_limit_bytes < 1024 {
            problem("server.body_limit_bytes", "must be at least 1024");
        }
        if let Some(url) = &self.database.url {
            let url = url.expose();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                problem(
                    "database.url",
                    "must start with sqlite:, postgres:// or postgresql://",
                );
            }
        }
        if self.database.max_connections == 0 {
            problem("database.max_connections", "must be at least 1");
        }
        if self.database.min_connections > self.database.max_connections {
            problem(
                "database.min_connections",
                "must not exceed database.max_connections",
            );
        }
        if self.storage.backend == StorageBackend::S3 {
            let s3 = &self.storage.s3;
            if s3.bucket.as_deref().unwrap_or("").is_empty() {
                problem("storage.s3.bucket", "required when storage.backend = s3");
            }
            if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
                problem(
                    "storage.s3.secret_access_key",
                    "access_key_id and secret_access_key are set together",
                );
            }
            if s3.part_size_bytes < 5 * 1024 * 1024 {
                problem(
                    "storage.s3.part_size_bytes",
                    "S3 parts must be at least 5 MiB",
                );
            }
        }
        if !(60..=7 * 24 * 3600).contains(&self.storage.presign_max_ttl_secs) {
            problem(
                "storage.presign_max_ttl_secs",
                "must be between 60 and 604800 (7 days)",
            );
        }
        if let Some(key) = &self.keys.url_signing_key
            && key.expose().len() < 32
        {
            problem("keys.url_signing_key", "must be at least 32 characters");
        }
        if let Some(key) = &self.keys.data_encryption_key {
            let valid = hex::decode(key.expose()).is_ok_and(|k| k.len() == 32);
            if !valid {
                problem(
                    "keys.data_encryption_key",
                    "must be 64 hex characters (32 bytes)",
                );
            }
        }
        if !(60..=24 * 3600).contains(&self.auth.access_ttl_secs) {
            problem("auth.access_ttl_secs", "must be between 60 and 86400");
        }
        if !(60..=24 * 3600).contains(&self.review.claim_lease_secs) {
            problem("review.claim_lease_secs", "must be between 60 and 86400");
        }
        if self.auth.login_lock_after < 2 {
            problem("auth.login_lock_after", "must be at least 2");
        }
        if self.auth.login_global_lock_after < self.auth.login_lock_after {
            problem(
                "auth.login_global_lock_after",
                "must be at least auth.login_lock_after",
            );
        }
        if self.auth.login_global_lock_secs == 0 {
            problem("auth.login_global_lock_secs", "must be at least 1");
        }
        if !(50..=60_000).contains(&self.auth.revocation_refresh_ms) {
            problem("auth.revocation_refresh_ms", "must be between 50 and 60000");
        }
        if self.auth.refresh_ttl_secs < self.auth.access_ttl_secs {
            problem(
                "auth.refresh_ttl_secs",
                "must be at least auth.access_ttl_secs",
            );
        }
        if !(self.wechat.api_base.starts_with("http://")
            || self.wechat.api_base.starts_with("https://"))
        {
            problem("wechat.api_base", "must start with http:// or https://");
        }
        if self.wechat.app_id.is_some() != self.wechat.app_secret.is_some() {
            problem(
                "wechat.app_secret",
                "wechat.app_id and wechat.app_secret are set together",
            );
        }
        if self.uploads.max_open_tickets_per_application == 0 {
            problem(
                "uploads.max_open_tickets_per_application",
                "must be at least 1",
            );
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.uploads.max_page_bytes) {
            problem("uploads.max_page_bytes", "must be between 1 KiB and 1 GiB");
        }
        if parse_utc_offset(&self.local_utc_offset).is_none() {
            problem("local_utc_offset", "must look like +08:00");
        }
        if self.jobs.concurrency == 0 || self.jobs.concurrency > 64 {
            problem("jobs.concurrency", "must be between 1 and 64");
        }
        if self.jobs.lease_secs < 2 {
            problem("jobs.lease_secs", "must be at least 2");
        }
        if self.jobs.max_attempts < 1 {
            problem("jobs.max_attempts", "must be at least 1");
        }
        if self.jobs.poll_ms < 10 {
            problem("jobs.poll_ms", "must be at least 10");
        }
        if lettre_address_invalid(&self.mail.from) {
            problem(
                "mail.from",
                "must be an address such as `Beebox <noreply@example.org>`",
            );
        }
        if self
            .notifications
            .digest_times
            .iter()
            .any(|t| parse_local_time(t).is_none())
        {
            problem("notifications.digest_times", "each must be HH:MM");
        }
        if self.courier.pickup_slots.is_empty()
            || self
                .courier
                .pickup_slots
                .iter()
                .any(|s| parse_slot(s).is_none())
        {
            problem(
                "courier.pickup_slots",
                "each must be HH:MM-HH:MM with the end after the start",
            );
        }
        if self.courier.dispatch_cutoffs.is_empty()
            || self
                .courier
                .dispatch_cutoffs
                .iter()
                .any(|t| parse_local_time(t).is_none())
        {
            problem(
                "courier.dispatch_cutoffs",
                "each must be HH:MM, at least one",
            );
        }
        let limits = &self.rate_limits;
        for (key, (per_minute, burst)) in [
            (
                "rate_limits.citizen_login_per_ip.burst",
                limits.citizen_login_per_ip.pair(),
            ),
            (
                "rate_limits.citizen_login_per_account.burst",
                limits.citizen_login_per_account.pair(),
            ),
            (
                "rate_limits.staff_login_per_ip.burst",
                limits.staff_login_per_ip.pair(),
            ),
            (
                "rate_limits.staff_login_per_account.burst",
                limits.staff_login_per_account.pair(),
            ),
            (
                "rate_limits.applications_per_citizen.burst",
                limits.applications_per_citizen.pair(),
            ),
            (
                "rate_limits.upload_tickets_per_citizen.burst",
                limits.upload_tickets_per_citizen.pair(),
            ),
            (
                "rate_limits.page_uploads_per_citizen.burst",
                limits.page_uploads_per_citizen.pair(),
            ),
            (
                "rate_limits.webhook_per_ip.burst",
                limits.webhook_per_ip.pair(),
            ),
        ] {
            if per_minute > 0 && burst == 0 {
                problem(key, "must be at least 1 while per_minute is above 0");
            }
        }
        if !(30..=24 * 3600).contains(&self.courier.sf.push_max_age_secs) {
            problem(
                "courier.sf.push_max_age_secs",
                "must be between 30 and 86400",
            );
        }
        if !(1..=64).contains(&self.courier.push_writers) {
            problem("courier.push_writers", "must be between 1 and 64");
        }
        if !(1..=30).contains(&self.courier.pickup_days) {
            problem("courier.pickup_days", "must be between 1 and 30");
        }
        if self.courier.partner != "sf" {
            problem("courier.partner", "the partners are: sf");
        }
        if !["formal", "trial", "developer"]
            .contains(&self.wechat.subscribe.miniprogram_state.as_str())
        {
            problem(
                "wechat.subscribe.miniprogram_state",
                "must be formal, trial or developer",
            );
        }
        for (event, template) in &self.wechat.subscribe.templates {
            if template.template_id.is_some() && template.data_fields().next().is_none() {
                problem(
                    "wechat.subscribe.templates",
                    &format!(
                        "the `{event}` template has an id but no fields: WeChat refuses empty data"
                    ),
                );
            }
        }
        if self.profile == Profile::Prod {
            if self.courier.sf.api_base.is_none() {
                problem(
                    "courier.sf.api_base",
                    "prod refuses the built-in courier simulator; set SF's API endpoint",
                );
            }
            for (key, missing) in [
                (
                    "courier.sf.partner_id",
                    self.courier.sf.partner_id.is_none(),
                ),
                (
                    "courier.sf.check_word",
                    self.courier.sf.check_word.is_none(),
                ),
                (
                    "courier.sf.webhook_secret",
                    self.courier.sf.webhook_secret.is_none(),
                ),
            ] {
                if missing {
                    problem(
                        key,
                        "prod needs SF's real credentials (no simulator default)",
                    );
                }
            }
            if self.mail.backend == MailBackend::File {
                problem(
                    "mail.backend",
                    "prod refuses the file backend; configure smtp",
                );
            }
            if self.keys.data_encryption_key.is_none() {
                problem(
                    "keys.data_encryption_key",
                    "prod refuses a generated encryption key",
                );
            }
            if self.auth.dev_login == Some(true) {
                problem("auth.dev_login", "prod refuses the dev login");
            }
            if self.wechat.app_id.is_none() {
                problem(
                    "wechat.app_id",
                    "prod needs the mini-program's AppID and AppSecret (no simulated login)",
                );
            }
            if self.database.url.is_none() {
                problem(
                    "database.url",
                    "prod refuses the dev SQLite default; set a PostgreSQL URL",
                );
            }
            if self.storage.backend == StorageBackend::Fs {
                problem(
                    "storage.backend",
                    "prod refuses the local filesystem store; use s3",
                );
            }
            if self.keys.jwt_private_key.is_none() {
                problem(
                    "keys.jwt_private_key",
                    "prod refuses a generated token signing key; provide an Ed25519 PKCS#8 PEM",
                );
            }
            if self.keys.url_signing_key.is_none() {
                problem(
                    "keys.url_signing_key",
                    "prod refuses a generated URL signing key",
                );
            }
            if self.catalog.seed_on_empty == Some(true) {
                problem(
                    "catalog.seed_on_empty",
                    "prod refuses the sample catalogue; import the real one with `beebox catalog import`",
                );
            }
            if self.server.public_url.is_none() {
                problem(
                    "server.public_url",
                    "prod needs the public https address clients use",
                );
            }
            if self.ops.token.is_none() && self.ops.metrics_listen.is_none() {
                problem(
                    "ops.token",
                    "prod refuses /metrics open on the main port; set ops.token or ops.metrics_listen",
                );
            }
            if self.storage.orphan_grace_secs < 600 {
                problem(
                    "storage.orphan_grace_secs",
                    "prod needs at least 600, longer than any upload takes to be recorded",
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
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

/// `+08:00` -> UTC+8.
pub fn parse_utc_offset(text: &str) -> Option<chrono::FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 || h < 0 || m < 0 {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// `09:30` -> 09:30.
pub fn parse_local_time(text: &str) -> Option<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M").ok()
}

fn lettre_address_invalid(text: &str) -> bool {
    text.parse::<lettre::message::Mailbox>().is_err()
}

/// `09:00-12:00` -> (09:00, 12:00), the end after the start.
pub fn parse_slot(text: &str) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
    let (from, until) = text.split_once('-')?;
    let (from, until) = (
        parse_local_time(from.trim())?,
        parse_local_time(until.trim())?,
    );
    (from < until).then_some((from, until))
}
