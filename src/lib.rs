//! Beebox: filing government paperwork by post from a WeChat mini-program.
//!
//! `main.rs` only parses the command line; `startup::Application` builds and runs the service.

pub mod api;
pub mod auth;
pub mod cases;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod courier;
pub mod domain;
pub mod http;
pub mod integrations;
pub mod jobs;
pub mod keys;
pub mod media;
pub mod notify;
pub mod passwords;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod sweeps;
pub mod telemetry;

pub use startup::Application;
