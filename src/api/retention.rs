//! How a case's retention reads in answers: when each part of it goes or went. Shared by the
//! citizen's account deletion (`/v1/me`) and the admin's view (`/v1/admin/applications`).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::cases::retention::{Due, Schedule};

/// One part of a case: destroyed then, or due then. Neither while the case is open or on
/// legal hold.
#[derive(Debug, Clone, Object)]
pub struct PartRetention {
    #[oai(skip_serializing_if_is_none)]
    pub destroyed_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub due_at: Option<DateTime<Utc>>,
}

impl From<Due> for PartRetention {
    fn from(due: Due) -> Self {
        Self {
            destroyed_at: due.destroyed_at,
            due_at: due.due_at,
        }
    }
}

/// When a case's photos, result files and personal fields go.
#[derive(Debug, Clone, Object)]
pub struct CaseRetention {
    pub application_id: Uuid,
    pub state: String,
    /// When the case ended; the periods count from then. Absent while it is open.
    #[oai(skip_serializing_if_is_none)]
    pub ended_at: Option<DateTime<Utc>>,
    /// On legal hold: nothing more is destroyed until an admin lifts it.
    pub legal_hold: bool,
    pub photos: PartRetention,
    pub results: PartRetention,
    pub personal_fields: PartRetention,
}

impl From<&Schedule> for CaseRetention {
    fn from(s: &Schedule) -> Self {
        Self {
            application_id: s.id,
            state: s.state.as_str().to_string(),
            ended_at: s.ended_at,
            legal_hold: s.held,
            photos: s.photos.into(),
            results: s.results.into(),
            personal_fields: s.personal.into(),
        }
    }
}
