//! Partners we call: WeChat (login, later messages), the courier, the mailer. Each sits behind a
//! narrow interface and speaks its partner's protocol byte for byte.

pub mod courier;
pub mod mailer;
pub mod wechat;
