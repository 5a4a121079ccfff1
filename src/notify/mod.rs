//! Notifications to citizens (WeChat subscribe messages, email) and alerts to staff. Every one
//! is a job enqueued in the transaction of the change that causes it; the handlers here run
//! later, from the worker, and are idempotent per event and channel.

pub mod citizen;
pub mod email_templates;
pub mod staff;
pub mod wechat_token;
