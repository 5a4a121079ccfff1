//! The one clock every rule that compares times reads: leases, SLA, upload expiry, auto-confirm,
//! dispatch cut-offs, reconcile. Production runs on the system clock; tests start the service with
//! a settable one and move it forward instead of waiting or writing timestamps into rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// How far a settable clock runs ahead of the system's, in milliseconds; `None` for the
    /// system clock, which nothing can move.
    ahead_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { ahead_ms: None }
    }

    /// A clock that follows the system's until `advance` moves it ahead. Time keeps flowing, so
    /// whatever waits on real timers (the worker's poll, a lease) still sees it pass.
    pub fn settable() -> Self {
        Self {
            ahead_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.ahead_ms {
            None => now,
            Some(ahead) => now + chrono::Duration::milliseconds(ahead.load(Ordering::Relaxed)),
        }
    }

    /// Moves a settable clock forward. Panics on the system clock: only tests move time.
    pub fn advance(&self, by: std::time::Duration) {
        let ahead = self
            .ahead_ms
            .as_ref()
            .expect("the system clock cannot be moved");
        let ms = i64::try_from(by.as_millis()).expect("a duration a test can mean");
        ahead.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settable_clock_moves_forward_and_keeps_flowing() {
        let clock = Clock::settable();
        let before = clock.now();
        clock.advance(std::time::Duration::from_secs(3600));
        let after = clock.now();
        assert!(after - before >= chrono::Duration::seconds(3600));
        assert!(after - before < chrono::Duration::seconds(3605));
        assert!(clock.now() >= after);
    }

    #[test]
    #[should_panic(expected = "cannot be moved")]
    fn the_system_clock_cannot_be_moved() {
        Clock::system().advance(std::time::Duration::from_secs(1));
    }
}
