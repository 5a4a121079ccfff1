//! `[courier]`: the courier legs: the partners and the default one, pickup windows, the service
//! centre's own address, tracking upkeep, and each partner's credentials (`[courier.sf]`,
//! `[courier.ems]`). Dev runs a built-in simulator of each enabled partner; prod refuses them.

use serde::{Deserialize, Serialize};

use super::{Problems, Profile, Secret, parse_local_time, parse_slot};

/// The courier legs: pickup windows, the service centre's own address, tracking upkeep.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CourierConfig {
    /// The partners this deployment works with, each configured in its own section.
    pub partners: Vec<String>,
    /// The partner a leg goes to when neither its item nor its pickup names one. A shipment
    /// keeps the partner it was ordered from, so changing this strands no parcel.
    pub default_partner: String,
    /// The old name of `default_partner`, still read so an existing configuration keeps working.
    #[serde(skip_serializing)]
    pub partner: Option<String>,
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
    pub ems: EmsConfig,
    /// The centre's 24-hour box, where items that allow it take originals dropped off.
    pub drop_box: DropBoxConfig,
}

/// `[courier.drop_box]`: the 24-hour box in the service hall.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DropBoxConfig {
    /// Where the box is, as the citizen is told.
    pub place: String,
    /// Local times (`HH:MM`) at which reception empties the box, as the citizen is told.
    pub empty_at: Vec<String>,
    /// Days after choosing the box until a drop not found in it is flagged (on the problems
    /// view) and the citizen reminded, once.
    pub remind_after_days: u32,
}

impl Default for DropBoxConfig {
    fn default() -> Self {
        Self {
            place: "政务服务中心一楼自助服务区 24 小时材料投递箱".into(),
            empty_at: vec!["09:30".into(), "15:30".into()],
            remind_after_days: 3,
        }
    }
}

/// The partners an adapter exists for, by code.
pub const PARTNER_CODES: [&str; 2] = ["sf", "ems"];

impl Default for CourierConfig {
    fn default() -> Self {
        Self {
            partners: vec!["sf".into()],
            default_partner: "sf".into(),
            partner: None,
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
            ems: EmsConfig::default(),
            drop_box: DropBoxConfig::default(),
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

impl CourierConfig {
    /// Moves a value given under an old key to its new one.
    pub(super) fn take_old_names(&mut self) {
        if let Some(partner) = self.partner.take() {
            self.default_partner = partner;
        }
    }

    pub(super) fn validate(&self, profile: Profile, problems: &mut Problems) {
        if self.pickup_slots.is_empty() || self.pickup_slots.iter().any(|s| parse_slot(s).is_none())
        {
            problems.add(
                "courier.pickup_slots",
                "each must be HH:MM-HH:MM with the end after the start",
            );
        }
        if self.dispatch_cutoffs.is_empty()
            || self
                .dispatch_cutoffs
                .iter()
                .any(|t| parse_local_time(t).is_none())
        {
            problems.add(
                "courier.dispatch_cutoffs",
                "each must be HH:MM, at least one",
            );
        }
        if self.drop_box.empty_at.is_empty()
            || self
                .drop_box
                .empty_at
                .iter()
                .any(|t| parse_local_time(t).is_none())
        {
            problems.add(
                "courier.drop_box.empty_at",
                "each must be HH:MM, at least one",
            );
        }
        if self.drop_box.place.trim().is_empty() {
            problems.add("courier.drop_box.place", "say where the box is");
        }
        if !(1..=30).contains(&self.drop_box.remind_after_days) {
            problems.add(
                "courier.drop_box.remind_after_days",
                "must be between 1 and 30",
            );
        }
        if !(1..=64).contains(&self.push_writers) {
            problems.add("courier.push_writers", "must be between 1 and 64");
        }
        if !(1..=30).contains(&self.pickup_days) {
            problems.add("courier.pickup_days", "must be between 1 and 30");
        }
        let known = PARTNER_CODES.join(", ");
        if self.partners.is_empty() {
            problems.add(
                "courier.partners",
                format!("name at least one partner (the partners are: {known})"),
            );
        }
        for (i, code) in self.partners.iter().enumerate() {
            if !PARTNER_CODES.contains(&code.as_str()) {
                problems.add(
                    "courier.partners",
                    format!("`{code}` is not a partner (the partners are: {known})"),
                );
            } else if self.partners[..i].contains(code) {
                problems.add("courier.partners", format!("`{code}` is named twice"));
            }
        }
        if !PARTNER_CODES.contains(&self.default_partner.as_str()) {
            problems.add(
                "courier.default_partner",
                format!(
                    "`{}` is not a partner (the partners are: {known})",
                    self.default_partner
                ),
            );
        } else if !self.enabled(&self.default_partner) {
            problems.add(
                "courier.default_partner",
                format!(
                    "`{}` is not enabled: add it to courier.partners ({})",
                    self.default_partner,
                    self.partners.join(", ")
                ),
            );
        }
        if self.enabled("sf") {
            self.sf.validate(profile, problems);
        }
        if self.enabled("ems") {
            self.ems.validate(profile, problems);
        }
    }

    /// Whether `code` is among `partners`.
    pub fn enabled(&self, code: &str) -> bool {
        self.partners.iter().any(|p| p == code)
    }
}

impl SfConfig {
    fn validate(&self, profile: Profile, problems: &mut Problems) {
        if !(30..=24 * 3600).contains(&self.push_max_age_secs) {
            problems.add(
                "courier.sf.push_max_age_secs",
                "must be between 30 and 86400",
            );
        }
        if profile == Profile::Prod {
            if self.api_base.is_none() {
                problems.add(
                    "courier.sf.api_base",
                    "prod refuses the built-in courier simulator; set SF's API endpoint",
                );
            }
            for (key, missing) in [
                ("courier.sf.partner_id", self.partner_id.is_none()),
                ("courier.sf.check_word", self.check_word.is_none()),
                ("courier.sf.webhook_secret", self.webhook_secret.is_none()),
            ] {
                if missing {
                    problems.add(
                        key,
                        "prod needs SF's real credentials (no simulator default)",
                    );
                }
            }
        }
    }
}

/// China Post EMS open platform (中国邮政 协议客户开放平台).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmsConfig {
    /// The API endpoint, e.g. `https://api.ems.com.cn/amp-prod-api/f/amp/api/open` (sandbox:
    /// `.../amp/api/test`). Unset in dev: the built-in simulator.
    pub api_base: Option<String>,
    /// 协议客户号 (`senderNo`). Unset in dev: the simulator's.
    pub sender_no: Option<String>,
    /// 授权码 (`authorization`). Unset in dev: the simulator's.
    pub authorization: Option<Secret>,
    /// 签名密钥: the Base64 of the 16-byte SM4 key that seals requests and pushes. Unset in
    /// dev: the simulator's.
    pub sign_key: Option<Secret>,
    /// Our own secret in the push URL (`?secret=`) or `X-Beebox-Webhook-Secret`. Unset in dev:
    /// the simulator's.
    pub webhook_secret: Option<Secret>,
    /// 业务产品 (`bizProductNo`); 1 is 特快专递.
    pub biz_product_no: String,
    pub timeout_ms: u64,
    /// How fast the dev simulator moves a parcel along its route, per step.
    pub sim_step_ms: u64,
    /// The dev simulator collects at once instead of waiting for the booked pickup window.
    pub sim_skip_pickup_wait: bool,
}

impl Default for EmsConfig {
    fn default() -> Self {
        Self {
            api_base: None,
            sender_no: None,
            authorization: None,
            sign_key: None,
            webhook_secret: None,
            biz_product_no: "1".into(),
            timeout_ms: 5_000,
            sim_step_ms: 3_000,
            sim_skip_pickup_wait: false,
        }
    }
}

impl EmsConfig {
    fn validate(&self, profile: Profile, problems: &mut Problems) {
        let sixteen_bytes = |key: &Secret| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(key.expose().trim())
                .is_ok_and(|k| k.len() == 16)
        };
        if self.sign_key.as_ref().is_some_and(|k| !sixteen_bytes(k)) {
            problems.add(
                "courier.ems.sign_key",
                "must be the Base64 of a 16-byte SM4 key, as EMS issues it",
            );
        }
        if self.biz_product_no.trim().is_empty() {
            problems.add("courier.ems.biz_product_no", "must not be empty");
        }
        if profile == Profile::Prod {
            if self.api_base.is_none() {
                problems.add(
                    "courier.ems.api_base",
                    "prod refuses the built-in courier simulator; set EMS's API endpoint",
                );
            }
            for (key, missing) in [
                ("courier.ems.sender_no", self.sender_no.is_none()),
                ("courier.ems.authorization", self.authorization.is_none()),
                ("courier.ems.sign_key", self.sign_key.is_none()),
                ("courier.ems.webhook_secret", self.webhook_secret.is_none()),
            ] {
                if missing {
                    problems.add(
                        key,
                        "prod needs EMS's real credentials (no simulator default)",
                    );
                }
            }
        }
    }
}
