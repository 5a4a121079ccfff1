//! `[notifications]`: when staff get their email digests and how often overdue pre-reviews are
//! looked for. Times are local, in `local_utc_offset`.

use serde::{Deserialize, Serialize};

use super::{Problems, parse_local_time};

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

impl NotificationsConfig {
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self
            .digest_times
            .iter()
            .any(|t| parse_local_time(t).is_none())
        {
            problems.add("notifications.digest_times", "each must be HH:MM");
        }
    }
}
