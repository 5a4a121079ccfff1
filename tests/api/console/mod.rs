//! The back-office console: how its files are served (`serving`), its cookie session
//! (`session`), the routes its screens added (`routes`), and the screens themselves driven in
//! Debian's chromium (`browser`).

mod browser;
mod routes;
mod serving;
mod session;
