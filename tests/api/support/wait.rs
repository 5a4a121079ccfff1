//! Polling for what happens in the background (jobs, the simulated courier, the peers): one loop
//! with a deadline, so that no test sleeps a fixed time and hopes. Each caller names how long it
//! will wait and how often it looks.

use std::future::Future;
use std::time::{Duration, Instant};

/// Calls `check` every `every` until it answers `Ok`, for up to `within`; on time-out, the last
/// `Err` (what was seen instead, for the caller's message).
pub async fn poll<T, L, F, Fut>(within: Duration, every: Duration, mut check: F) -> Result<T, L>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, L>>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match check().await {
            Ok(done) => return Ok(done),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(every).await;
    }
}

/// Asserts that `check` comes to hold within `within`, looking every `every`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, every: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let held = poll(within, every, || {
        let holds = check();
        async move { if holds.await { Ok(()) } else { Err(()) } }
    })
    .await;
    assert!(held.is_ok(), "timed out waiting for {what}");
}

/// Whether `condition` comes to hold within `within`, looking every `every`.
pub async fn comes_true(
    within: Duration,
    every: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    poll(within, every, || {
        std::future::ready(if condition() { Ok(()) } else { Err(()) })
    })
    .await
    .is_ok()
}
