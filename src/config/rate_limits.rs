//! `[rate_limits]`: per-key request budgets (a rate and a burst) for logins, drafts, uploads and
//! courier pushes. A setting that gives only one of the pair keeps the other's default.

use serde::{Deserialize, Serialize, Serializer};

use super::Problems;

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
    /// Agent confirmation codes one citizen looks up or accepts: a resident types one or two;
    /// a guesser gets 10 tries a minute at 2^40 codes.
    pub authorization_codes_per_citizen: RateLimit<10, 5>,
}

impl RateLimitsConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        for (key, (per_minute, burst)) in [
            (
                "rate_limits.citizen_login_per_ip.burst",
                self.citizen_login_per_ip.pair(),
            ),
            (
                "rate_limits.citizen_login_per_account.burst",
                self.citizen_login_per_account.pair(),
            ),
            (
                "rate_limits.staff_login_per_ip.burst",
                self.staff_login_per_ip.pair(),
            ),
            (
                "rate_limits.staff_login_per_account.burst",
                self.staff_login_per_account.pair(),
            ),
            (
                "rate_limits.applications_per_citizen.burst",
                self.applications_per_citizen.pair(),
            ),
            (
                "rate_limits.upload_tickets_per_citizen.burst",
                self.upload_tickets_per_citizen.pair(),
            ),
            (
                "rate_limits.page_uploads_per_citizen.burst",
                self.page_uploads_per_citizen.pair(),
            ),
            (
                "rate_limits.webhook_per_ip.burst",
                self.webhook_per_ip.pair(),
            ),
            (
                "rate_limits.authorization_codes_per_citizen.burst",
                self.authorization_codes_per_citizen.pair(),
            ),
        ] {
            if per_minute > 0 && burst == 0 {
                problems.add(key, "must be at least 1 while per_minute is above 0");
            }
        }
    }
}
