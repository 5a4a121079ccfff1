//! Notifications, end to end: the app's job worker sends WeChat subscribe messages to the local
//! WeChat peer and email to the real SMTP peer (maildev); citizens and staff read them back.

mod citizens;
mod delivery;
mod staff;
