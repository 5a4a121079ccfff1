//! `[retention]`: how long an ended case's photos, result files and personal fields are kept
//! when its catalogue item names no period of its own, when an untouched draft counts as
//! abandoned, and how the destruction job paces itself.

use serde::{Deserialize, Serialize};

use super::Problems;
use crate::domain::catalog::{MAX_RETENTION_DAYS, RetentionDays};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a case ends until its photos (pages and thumbnails) are destroyed.
    pub photos_days: i32,
    /// Days after a case ends until its result files are destroyed.
    pub results_days: i32,
    /// Days after a case ends until its personal fields are blanked.
    pub personal_days: i32,
    /// Days a draft or returned case may sit untouched before the service cancels it as
    /// abandoned (its retention periods then run from that day).
    pub abandoned_days: i32,
    /// How often the destruction job runs.
    pub every_secs: u64,
    /// Cases per transaction: each batch holds its rows' locks only for its own writes.
    pub batch: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            photos_days: 180,
            results_days: 365,
            personal_days: 365,
            abandoned_days: 30,
            every_secs: 3600,
            batch: 200,
        }
    }
}

impl RetentionConfig {
    /// The periods an item without its own follows.
    pub fn defaults(&self) -> RetentionDays {
        RetentionDays {
            photos: self.photos_days,
            results: self.results_days,
            personal: self.personal_days,
            abandoned: self.abandoned_days,
        }
    }

    pub(super) fn validate(&self, problems: &mut Problems) {
        for (key, days) in [
            ("retention.photos_days", self.photos_days),
            ("retention.results_days", self.results_days),
            ("retention.personal_days", self.personal_days),
        ] {
            if !(1..=MAX_RETENTION_DAYS).contains(&days) {
                problems.add(key, "must be between 1 and 36500");
            }
        }
        if !(1..=3650).contains(&self.abandoned_days) {
            problems.add("retention.abandoned_days", "must be between 1 and 3650");
        }
        if !(10..=86_400).contains(&self.every_secs) {
            problems.add("retention.every_secs", "must be between 10 and 86400");
        }
        if !(1..=5000).contains(&self.batch) {
            problems.add("retention.batch", "must be between 1 and 5000");
        }
    }
}
