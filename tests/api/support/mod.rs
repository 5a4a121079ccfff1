//! What the API tests share: the app on a fresh database (`app`), the peers it talks to (`s3`,
//! `wechat`, `mail`), cases in a given state (`cases`, `seeds`, `courier`), staff (`staff`) and
//! polling with a deadline (`wait`). A helper lives here once; test files only hold tests.

pub mod agents;
pub mod answers;
pub mod app;
pub mod binary;
pub mod browser;
pub mod cases;
pub mod cluster;
pub mod courier;
pub mod mail;
pub mod notify;
pub mod objects;
pub mod pages;
pub mod s3;
pub mod seeds;
pub mod sf;
pub mod sf_peer;
pub mod shipments;
pub mod staff;
pub mod wait;
pub mod wallet;
pub mod wechat;

pub use answers::assert_problem;
pub use app::{
    TestApp, fresh_database_url, quick_app, spawn_app, spawn_app_on, spawn_app_unready,
    spawn_app_with,
};
