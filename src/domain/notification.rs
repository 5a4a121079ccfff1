//! Where a citizen's message stands on one channel. The row is also the send's idempotency key,
//! so each status says what a send job that finds it may still do.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    /// Its send job has yet to send it.
    Pending,
    /// On the wire: a job that finds it so knows a worker died mid-send.
    Sending,
    Sent,
    /// Not sent, on purpose: the channel is off, or the citizen has no consent left.
    Skipped,
    Failed,
    /// A send that was on the wire when its worker died: the partner may or may not have it, and
    /// it is never sent again (a second message would be worse than a missing one).
    Unknown,
}

pub const ALL_NOTIFICATION_STATUSES: [NotificationStatus; 6] = [
    NotificationStatus::Pending,
    NotificationStatus::Sending,
    NotificationStatus::Sent,
    NotificationStatus::Skipped,
    NotificationStatus::Failed,
    NotificationStatus::Unknown,
];

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ALL_NOTIFICATION_STATUSES
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for NotificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_by_name() {
        for status in ALL_NOTIFICATION_STATUSES {
            assert_eq!(NotificationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(NotificationStatus::parse("nope"), None);
    }
}
