//! Rate limits: one keyed GCRA limiter (`governor`) per limit in `[rate_limits]`, kept in this
//! instance's memory, so N instances behind a balancer allow N times as much. Handlers call
//! `check` with their key (client address, account or citizen); a refusal is 429 `rate_limited`
//! with `Retry-After`. The keys are forgotten once their bucket is full again (`retain_recent` on
//! a timer), so memory follows the clients of the last minutes, not all clients ever seen.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use poem::http::{HeaderValue, StatusCode, header};

use crate::api::problem::ApiError;
use crate::config::RateLimitsConfig;

/// What is limited, and by which key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `POST /v1/auth/wechat` by client address.
    CitizenLoginPerIp,
    /// `POST /v1/auth/wechat` by WeChat openid.
    CitizenLoginPerAccount,
    /// `POST /v1/staff/login` by client address.
    StaffLoginPerIp,
    /// `POST /v1/staff/login` by (normalised) username.
    StaffLoginPerAccount,
    /// `POST /v1/applications` by citizen.
    Applications,
    /// Presigned upload tickets by citizen.
    UploadTickets,
    /// Page uploads through the service by citizen.
    PageUploads,
    /// Courier pushes by client address, before any signature work.
    WebhookPerIp,
    /// Agent confirmation codes looked up or accepted, by citizen.
    AuthorizationCodes,
}

const LIMITS: usize = 9;

impl Limit {
    fn index(self) -> usize {
        self as usize
    }

    /// `(per_minute, burst)` of this limit.
    fn setting(self, config: &RateLimitsConfig) -> (u32, u32) {
        match self {
            Self::CitizenLoginPerIp => config.citizen_login_per_ip.pair(),
            Self::CitizenLoginPerAccount => config.citizen_login_per_account.pair(),
            Self::StaffLoginPerIp => config.staff_login_per_ip.pair(),
            Self::StaffLoginPerAccount => config.staff_login_per_account.pair(),
            Self::Applications => config.applications_per_citizen.pair(),
            Self::UploadTickets => config.upload_tickets_per_citizen.pair(),
            Self::PageUploads => config.page_uploads_per_citizen.pair(),
            Self::WebhookPerIp => config.webhook_per_ip.pair(),
            Self::AuthorizationCodes => config.authorization_codes_per_citizen.pair(),
        }
    }

    const ALL: [Limit; LIMITS] = [
        Self::CitizenLoginPerIp,
        Self::CitizenLoginPerAccount,
        Self::StaffLoginPerIp,
        Self::StaffLoginPerAccount,
        Self::Applications,
        Self::UploadTickets,
        Self::PageUploads,
        Self::WebhookPerIp,
        Self::AuthorizationCodes,
    ];
}

/// Every limit of this instance; `None` where the setting turns it off.
pub struct RateLimits {
    limiters: [Option<DefaultKeyedRateLimiter<String>>; LIMITS],
    clock: DefaultClock,
}

/// How often keys whose bucket has refilled are dropped.
const UPKEEP_EVERY: Duration = Duration::from_secs(60);

impl RateLimits {
    pub fn new(config: &RateLimitsConfig) -> Self {
        Self {
            limiters: Limit::ALL
                .map(|limit| quota(limit.setting(config)).map(governor::RateLimiter::keyed)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `key` against `limit`: how long to wait when over it.
    pub fn wait(&self, limit: Limit, key: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiters[limit.index()] else {
            return Ok(());
        };
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            // The key (an address, a username, an openid) stays out of the log.
            tracing::debug!(?limit, "rate limit reached");
            not_until.wait_time_from(self.clock.now())
        })
    }

    /// As `wait`, answered as the 429 problem `rate_limited` with `Retry-After`.
    pub fn check(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        self.wait(limit, key).map_err(too_many)
    }

    /// As `check`, keyed by the client's address; without one (not a TCP peer) nothing is counted.
    pub fn check_ip(&self, limit: Limit, ip: Option<&str>) -> Result<(), ApiError> {
        self.wait_ip(limit, ip).map_err(too_many)
    }

    /// As `wait`, keyed by the client's address.
    pub fn wait_ip(&self, limit: Limit, ip: Option<&str>) -> Result<(), Duration> {
        match ip {
            Some(ip) => self.wait(limit, &ip_key(ip)),
            None => Ok(()),
        }
    }

    /// As `check`, keyed by a citizen.
    pub fn citizen(&self, limit: Limit, citizen: uuid::Uuid) -> Result<(), ApiError> {
        self.check(limit, &citizen.to_string())
    }

    /// A staff login: its client address, then its username.
    pub fn staff_login(&self, ip: Option<&str>, username: &str) -> Result<(), ApiError> {
        self.check_ip(Limit::StaffLoginPerIp, ip)?;
        self.check(Limit::StaffLoginPerAccount, username)
    }

    /// Keys held now, over all limits.
    pub fn keys(&self) -> usize {
        self.limiters.iter().flatten().map(|l| l.len()).sum()
    }

    /// Forgets every key whose bucket is full again (it would behave the same as a new one).
    pub fn forget_idle(&self) {
        for limiter in self.limiters.iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Runs `forget_idle` every minute for as long as the limits exist.
pub async fn upkeep(limits: Weak<RateLimits>) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(limits) = limits.upgrade() else {
            return;
        };
        limits.forget_idle();
    }
}

/// Spawns the upkeep of `limits` and hands them back.
pub fn start(config: &RateLimitsConfig) -> Arc<RateLimits> {
    let limits = Arc::new(RateLimits::new(config));
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(upkeep(Arc::downgrade(&limits)));
    }
    limits
}

fn quota((per_minute, burst): (u32, u32)) -> Option<Quota> {
    let per_minute = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(per_minute);
    Quota::with_period(Duration::from_secs(60) / per_minute.get()).map(|q| q.allow_burst(burst))
}

/// An IPv6 client usually holds a whole /64: count the prefix, or one host could rotate
/// through addresses. IPv4 (and text that is not an address) is counted as it is.
fn ip_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(String::new, |v4| v4.to_string()),
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_string(),
    }
}

/// Whole seconds, rounded up: a client that waits `Retry-After` finds room.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn too_many(wait: Duration) -> ApiError {
    let secs = retry_after_secs(wait).max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests. Try again in {secs} s."),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimit;

    fn limits(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits::new(&RateLimitsConfig {
            applications_per_citizen: RateLimit::new(per_minute, burst),
            ..RateLimitsConfig::default()
        })
    }

    #[test]
    fn a_burst_passes_then_waits_for_the_rate_and_keys_are_apart() {
        let limits = limits(60, 3);
        for _ in 0..3 {
            assert!(limits.wait(Limit::Applications, "a").is_ok());
        }
        let wait = limits.wait(Limit::Applications, "a").unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && !wait.is_zero(),
            "{wait:?}"
        );
        assert_eq!(retry_after_secs(wait), 1);
        assert!(limits.wait(Limit::Applications, "b").is_ok());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = limits(0, 3);
        for _ in 0..1000 {
            assert!(limits.wait(Limit::Applications, "a").is_ok());
        }
        assert_eq!(limits.keys(), 0);
    }

    #[test]
    fn refilled_keys_are_forgotten() {
        // 6000/min refills a burst of 1 in 10 ms.
        let limits = limits(6000, 1);
        assert!(limits.wait(Limit::Applications, "a").is_ok());
        assert_eq!(limits.keys(), 1);
        std::thread::sleep(Duration::from_millis(30));
        limits.forget_idle();
        assert_eq!(limits.keys(), 0);
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(ip_key("10.0.0.1"), "10.0.0.1");
    }
}
