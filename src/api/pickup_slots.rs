//! `/v1/pickup-slots`: the windows a courier can collect originals in, for the next
//! `courier.pickup_days` days, in the service centre's local time.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::api::ApiTags;
use crate::api::problem::ApiResult;
use crate::api::security::CitizenAuth;
use crate::config::{Config, parse_slot};
use crate::state::AppState;

pub struct PickupSlotsApi;

#[derive(Debug, Clone, Object, PartialEq, Eq)]
pub struct PickupSlot {
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    /// The window, `HH:MM-HH:MM` local time; pass it back as `window.slot`.
    pub slot: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct PickupSlots {
    pub city: String,
    pub items: Vec<PickupSlot>,
    /// The courier partners a pickup may name (`partner`), the default first.
    pub partners: Vec<String>,
}

/// A booked window, checked: where it starts and ends.
pub fn window(config: &Config, date: &str, slot: &str, now: DateTime<Utc>) -> Option<PickupSlot> {
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    offered(config, now)
        .into_iter()
        .find(|s| s.date == date.format("%Y-%m-%d").to_string() && s.slot == slot)
}

/// The enabled courier partners, the default first.
pub fn partners(config: &Config) -> Vec<String> {
    let courier = &config.courier;
    let mut partners = vec![courier.default_partner.clone()];
    partners.extend(
        (courier.partners.iter())
            .filter(|p| **p != courier.default_partner)
            .cloned(),
    );
    partners
}

/// Every window still ahead in the next `courier.pickup_days` days.
pub fn offered(config: &Config, now: DateTime<Utc>) -> Vec<PickupSlot> {
    let offset = config.local_offset();
    let today = now.with_timezone(&offset).date_naive();
    let mut slots = Vec::new();
    for day in 0..config.courier.pickup_days as i64 {
        let date = today + Duration::days(day);
        for text in &config.courier.pickup_slots {
            let Some((from, until)) = parse_slot(text) else {
                continue;
            };
            let (Some(starts), Some(ends)) = (
                offset.from_local_datetime(&date.and_time(from)).single(),
                offset.from_local_datetime(&date.and_time(until)).single(),
            ) else {
                continue;
            };
            // A window that has begun can no longer be booked: the courier plans ahead.
            if starts.with_timezone(&Utc) <= now {
                continue;
            }
            slots.push(PickupSlot {
                date: date.format("%Y-%m-%d").to_string(),
                slot: format!("{}-{}", from.format("%H:%M"), until.format("%H:%M")),
                starts_at: starts.with_timezone(&Utc),
                ends_at: ends.with_timezone(&Utc),
            });
        }
    }
    slots
}

#[OpenApi(tag = "ApiTags::Applications")]
impl PickupSlotsApi {
    /// The pickup windows on offer for the next days.
    #[oai(path = "/v1/pickup-slots", method = "get")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: CitizenAuth,
        /// The city the originals are collected in.
        #[oai(validator(min_length = 1, max_length = 32))]
        city: Query<String>,
    ) -> ApiResult<Json<PickupSlots>> {
        Ok(Json(PickupSlots {
            city: city.0,
            items: offered(&state.config, state.clock.now()),
            partners: partners(&state.config),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_week_of_windows_from_the_next_one_that_has_not_begun() {
        let config = Config::default();
        let slots = offered(&config, at("2026-11-28T10:30:00+08:00"));
        // Today: 12-15 and 15-18 are left; six more days of three.
        assert_eq!(slots.len(), 2 + 6 * 3);
        assert_eq!(slots[0].date, "2026-11-28");
        assert_eq!(slots[0].slot, "12:00-15:00");
        assert_eq!(slots[0].starts_at, at("2026-11-28T12:00:00+08:00"));
        assert_eq!(slots.last().unwrap().date, "2026-12-04");
        assert!(
            window(
                &config,
                "2026-11-28",
                "09:00-12:00",
                at("2026-11-28T10:30:00+08:00")
            )
            .is_none()
        );
        assert!(
            window(
                &config,
                "2026-12-05",
                "09:00-12:00",
                at("2026-11-28T10:30:00+08:00")
            )
            .is_none()
        );
        assert!(
            window(
                &config,
                "2026-11-29",
                "09:00-12:00",
                at("2026-11-28T10:30:00+08:00")
            )
            .is_some()
        );
    }
}
