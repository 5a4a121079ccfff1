//! Durable background jobs. Anything that must happen after a commit (a message to a citizen, an
//! alert to staff, an order with the courier) is enqueued in that commit's transaction and run
//! later by a worker, retried with backoff until it succeeds or goes dead. Each kind is a typed
//! job (`job::Job`) whose body lives with its subject; `registry` lists them and `worker` runs
//! them without knowing any. Bodies import only `job` from here, never the runner.

pub mod job;
pub mod periodic;
pub mod registry;
pub mod schedule;
pub mod worker;
