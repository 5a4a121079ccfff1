//! The one integration-test binary: every test starts the real app or talks to real peers.

mod applications;
mod auth;
mod cli;
mod courier_crash;
mod courier_ingest;
mod courier_sf;
mod department;
mod errors;
mod health;
mod helpers;
mod jobs;
mod mail;
mod matters;
mod notifications;
mod objects;
mod openapi;
mod pages;
mod pickup;
mod reception;
mod review;
mod s3_server;
mod staff;
mod storage;
mod two_way_flow;
mod wechat_messages;
mod wechat_server;
