//! The citizen's wallet (证照夹): when a verified document is valid, and whether it may fill a
//! material of another case. Pure rules; `cases::wallet` applies them.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};

use super::catalog::Reuse;

/// Where a document of the wallet stands. Only `Valid` ones are offered or attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentState {
    Valid,
    /// The citizen took it out of the wallet.
    Withdrawn,
    /// A reviewer found it forged, expired or otherwise unusable.
    Invalidated,
    /// The same case's material was verified again with other pages.
    Replaced,
}

impl DocumentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Withdrawn => "withdrawn",
            Self::Invalidated => "invalidated",
            Self::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Valid,
            Self::Withdrawn,
            Self::Invalidated,
            Self::Replaced,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// The end of a document's validity: `valid_days` after its latest verification (the days of
/// the material that verified it, when that material accepts reuse), or the end of the day it
/// expires (`expires_on`, in the centre's time, as a reviewer recorded it), whichever is first.
/// `None`: neither says.
pub fn valid_until(
    verified: DateTime<Utc>,
    valid_days: Option<i32>,
    expires_on: Option<NaiveDate>,
    offset: FixedOffset,
) -> Option<DateTime<Utc>> {
    let by_days = valid_days.map(|days| verified + Duration::days(i64::from(days)));
    let by_expiry = expires_on.and_then(|day| {
        let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
        offset
            .from_local_datetime(&next)
            .single()
            .map(|t| t.with_timezone(&Utc))
    });
    match (by_days, by_expiry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The facts of a document that decide whether it fills a material.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub state: DocumentState,
    pub document_type: &'a str,
    /// Its latest verification.
    pub verified: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// What a material says about reuse.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub document_type: Option<&'a str>,
    pub reuse: Reuse,
    pub reuse_valid_days: Option<i32>,
}

/// Why a document cannot fill a material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// The material takes fresh pages only.
    NotAccepted,
    TypeMismatch,
    Ended(DocumentState),
    /// Past its own validity, or verified longer ago than the material accepts.
    Expired,
}

/// Whether `doc` may fill `wanted` at `now`. A department accepts another's verification only
/// as its own catalogue entry says: of the same type, verified within its `reuse_valid_days`.
pub fn usable(doc: Candidate<'_>, wanted: Wanted<'_>, now: DateTime<Utc>) -> Result<(), Unusable> {
    let (Reuse::Accepted, Some(wanted_type)) = (wanted.reuse, wanted.document_type) else {
        return Err(Unusable::NotAccepted);
    };
    if doc.document_type != wanted_type {
        return Err(Unusable::TypeMismatch);
    }
    if doc.state != DocumentState::Valid {
        return Err(Unusable::Ended(doc.state));
    }
    let fresh_enough = wanted
        .reuse_valid_days
        .is_some_and(|days| doc.verified + Duration::days(i64::from(days)) > now);
    if !fresh_enough || doc.valid_until.is_some_and(|until| until <= now) {
        return Err(Unusable::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn east8() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    const ID_CARD: Wanted<'static> = Wanted {
        document_type: Some("resident_id_card"),
        reuse: Reuse::Accepted,
        reuse_valid_days: Some(30),
    };

    fn card(verified: &str) -> Candidate<'static> {
        Candidate {
            state: DocumentState::Valid,
            document_type: "resident_id_card",
            verified: at(verified),
            valid_until: None,
        }
    }

    #[test]
    fn validity_is_the_sooner_of_the_days_and_the_expiry() {
        let verified = at("2026-03-01T02:00:00Z");
        assert_eq!(valid_until(verified, None, None, east8()), None);
        assert_eq!(
            valid_until(verified, Some(10), None, east8()),
            Some(at("2026-03-11T02:00:00Z"))
        );
        // Expiring on 3 March (UTC+8) ends at local midnight after it.
        let day = NaiveDate::from_ymd_opt(2026, 3, 3);
        assert_eq!(
            valid_until(verified, Some(10), day, east8()),
            Some(at("2026-03-03T16:00:00Z"))
        );
        assert_eq!(
            valid_until(verified, None, day, east8()),
            Some(at("2026-03-03T16:00:00Z"))
        );
        let late = NaiveDate::from_ymd_opt(2027, 1, 1);
        assert_eq!(
            valid_until(verified, Some(10), late, east8()),
            Some(at("2026-03-11T02:00:00Z"))
        );
    }

    #[test]
    fn a_document_fills_a_material_that_accepts_its_type_while_fresh() {
        let now = at("2026-03-20T00:00:00Z");
        assert_eq!(usable(card("2026-03-01T00:00:00Z"), ID_CARD, now), Ok(()));
        // Verified 31 days before: older than this material's 30 days.
        assert_eq!(
            usable(card("2026-02-17T00:00:00Z"), ID_CARD, now),
            Err(Unusable::Expired)
        );
        let mut ended = card("2026-03-01T00:00:00Z");
        ended.valid_until = Some(now);
        assert_eq!(usable(ended, ID_CARD, now), Err(Unusable::Expired));
    }

    #[test]
    fn fresh_only_other_types_and_ended_documents_fill_nothing() {
        let now = at("2026-03-20T00:00:00Z");
        let doc = card("2026-03-19T00:00:00Z");
        let fresh_only = Wanted {
            reuse: Reuse::FreshOnly,
            reuse_valid_days: None,
            ..ID_CARD
        };
        assert_eq!(usable(doc, fresh_only, now), Err(Unusable::NotAccepted));
        let untyped = Wanted {
            document_type: None,
            ..ID_CARD
        };
        assert_eq!(usable(doc, untyped, now), Err(Unusable::NotAccepted));
        let deed = Wanted {
            document_type: Some("property_certificate"),
            ..ID_CARD
        };
        assert_eq!(usable(doc, deed, now), Err(Unusable::TypeMismatch));
        for state in [
            DocumentState::Withdrawn,
            DocumentState::Invalidated,
            DocumentState::Replaced,
        ] {
            let ended = Candidate { state, ..doc };
            assert_eq!(usable(ended, ID_CARD, now), Err(Unusable::Ended(state)));
            assert_eq!(DocumentState::parse(state.as_str()), Some(state));
        }
    }
}
