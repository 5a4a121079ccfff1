//! What checking a request's access token costs on this machine, apart from everything else a
//! request does: the Ed25519 signature and the claims checks of `auth::verify_access_token`, and
//! a token the instance verified before (`auth::VerifiedTokens`).
//! `scripts/bench-read.sh` runs it (`cargo run --release --example token_cost`).

use std::hint::black_box;
use std::time::Instant;

use beebox::auth::{SubjectKind, VerifiedTokens, issue_access_token, verify_access_token};

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = beebox::config::Config {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let keys = beebox::keys::Keys::load(&config).expect("dev keys");
    let token = issue_access_token(
        &keys,
        uuid::Uuid::now_v7(),
        SubjectKind::Citizen,
        uuid::Uuid::now_v7(),
        900,
    );
    let rounds = 20_000;
    for _ in 0..1_000 {
        verify_access_token(&keys, &token).expect("our own token verifies");
    }
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(verify_access_token(&keys, black_box(&token)).expect("valid"));
    }
    let each = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "access token signature and claims check: {:.1} µs each ({rounds} rounds, one core)",
        each * 1e6
    );
    // What a request pays once the instance has verified its token before.
    let seen = VerifiedTokens::new(10_000);
    seen.check(&keys, &token).expect("valid");
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(seen.check(&keys, black_box(&token)).expect("valid"));
    }
    let each = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "the same token again, from the instance's verified tokens: {:.2} µs each",
        each * 1e6
    );
}
