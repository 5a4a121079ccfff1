//! The one integration-test binary: every test starts the real app or talks to real peers.
//! Shared helpers live in `support/`; each other module holds the tests of one area.

mod applications;
mod auth;
mod batches;
mod cli;
mod console;
mod courier;
mod department;
mod errors;
mod health;
mod input;
mod jobs;
mod lockout;
mod mail;
mod matters;
mod notifications;
mod objects;
mod openapi;
mod orphans;
mod pages;
mod pickup;
mod rate_limits;
mod reception;
mod review;
mod sessions;
mod staff;
mod stats;
mod storage;
mod stored_objects;
mod support;
mod transitions;
mod two_way_flow;
mod upload_crash;
mod wechat_config;
mod wechat_messages;
