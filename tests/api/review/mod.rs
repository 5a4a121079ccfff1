//! Pre-review: the queue with its claim leases, and the decisions on a claimed case.

mod decisions;
mod queue;
