//! Where a queued job stands. The queue (`store::jobs`) stores the text; everything else speaks
//! this enum, so a misspelt state is a compile error rather than a job nobody claims.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for its `run_at`, or for a worker.
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    Done,
    /// Out of attempts, or failed in a way no attempt can mend: waits for an admin's retry.
    Dead,
}

pub const ALL_JOB_STATUSES: [JobStatus; 4] = [
    JobStatus::Queued,
    JobStatus::Running,
    JobStatus::Done,
    JobStatus::Dead,
];

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_JOB_STATUSES.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for status in ALL_JOB_STATUSES {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("nope"), None);
    }
}
