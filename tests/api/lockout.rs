//! The staff login lockout: attempts are counted before they are checked, so parallel guesses
//! get no more checks than sequential ones; a lock holds one (username, address) pair, with a
//! slower back-off per username that spares the member's desk; admins lift locks; all audited.

use futures_util::future::join_all;
use serde_json::json;

use crate::support::staff::{PASSWORD, seed_staff, staff_login, staff_login_from, staff_token};
use crate::support::{TestApp, assert_problem, spawn_app, spawn_app_with};

/// `(401s, 423s)` of `n` wrong passwords sent at once.
async fn burst(app: &TestApp, username: &str, n: usize) -> (usize, usize) {
    let answers = join_all((0..n).map(|_| staff_login(app, username, "wrong password!!"))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 423).count();
    assert_eq!(unauthorized + locked, n, "only 401 and 423: {statuses:?}");
    (unauthorized, locked)
}

#[tokio::test]
async fn a_burst_of_parallel_wrong_passwords_gets_no_more_guesses_than_a_sequence() {
    // The login rate limits (429) would answer most of the burst before the lock is counted;
    // this test is about the lock, so they are off here (`rate_limits.rs` tests them).
    let app = spawn_app_with(|c| {
        c.rate_limits.staff_login_per_ip = beebox::config::RateLimit::new(0, 1);
        c.rate_limits.staff_login_per_account = beebox::config::RateLimit::new(0, 1);
    })
    .await;
    let limit = app.config.auth.login_lock_after as usize;
    seed_staff(&app, "bai.xue", "reviewer", "").await;
    assert_eq!(burst(&app, "bai.xue", 40).await, (limit, 40 - limit));
    // An unknown name is held the same way.
    assert_eq!(burst(&app, "no.such.user", 100).await, (limit, 100 - limit));
    // And the right password gets nowhere now.
    assert_problem(
        staff_login(&app, "bai.xue", PASSWORD).await,
        423,
        "account_locked",
    )
    .await;
}

#[tokio::test]
async fn a_lock_from_one_address_does_not_stop_the_member_at_another() {
    let app = spawn_app_with(|c| c.server.trust_forwarded_for = true).await;
    let id = seed_staff(&app, "he.jing", "reviewer", "").await;
    let limit = app.config.auth.login_lock_after;
    for _ in 0..limit {
        let wrong = staff_login_from(&app, "203.0.113.7", "he.jing", "wrong password!!").await;
        assert_problem(wrong, 401, "invalid_credentials").await;
    }
    let response = staff_login_from(&app, "203.0.113.7", "he.jing", PASSWORD).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 423, "account_locked").await;
    // A client-made `X-Forwarded-For` entry ahead of the proxy's changes nothing.
    let spoofed = staff_login_from(&app, "10.9.8.7, 203.0.113.7", "he.jing", PASSWORD).await;
    assert_problem(spoofed, 423, "account_locked").await;
    // The member at their own desk is not locked out.
    let desk = staff_login_from(&app, "198.51.100.9", "he.jing", PASSWORD).await;
    assert_eq!(desk.status(), 200);

    // The lock is in the audit log, naming the member and the address it came from.
    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let audit: serde_json::Value = app
        .get_as(&admin, "/v1/admin/audit?action=login.lock")
        .await
        .json()
        .await
        .unwrap();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!(items[0]["target_id"], id.to_string());
    assert_eq!(items[0]["client_ip"], "203.0.113.7");
}

#[tokio::test]
async fn the_per_username_back_off_holds_every_address_but_the_desk() {
    let app = spawn_app_with(|c| {
        c.server.trust_forwarded_for = true;
        c.auth.login_lock_after = 3;
        c.auth.login_global_lock_after = 4;
    })
    .await;
    seed_staff(&app, "lu.yang", "reviewer", "").await;
    // A good login makes 192.0.2.10 the desk.
    assert_eq!(
        staff_login_from(&app, "192.0.2.10", "lu.yang", PASSWORD)
            .await
            .status(),
        200
    );
    // Guesses spread over many addresses, none of them locked by itself.
    for n in 1..=4 {
        let address = format!("203.0.113.{n}");
        let wrong = staff_login_from(&app, &address, "lu.yang", "wrong password!!").await;
        assert_problem(wrong, 401, "invalid_credentials").await;
    }
    // Now a new address is held back, even with the right password...
    let elsewhere = staff_login_from(&app, "203.0.113.99", "lu.yang", PASSWORD).await;
    assert_problem(elsewhere, 423, "account_locked").await;
    // ...but not the desk.
    assert_eq!(
        staff_login_from(&app, "192.0.2.10", "lu.yang", PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn an_admin_lifts_a_lock_and_both_lock_and_unlock_are_audited() {
    let app = spawn_app().await;
    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let reviewer = staff_token(&app, "nosy.reviewer", "reviewer", "").await;
    let id = seed_staff(&app, "fang.hua", "reviewer", "").await;
    for _ in 0..app.config.auth.login_lock_after {
        staff_login(&app, "fang.hua", "wrong password!!").await;
    }
    assert_problem(
        staff_login(&app, "fang.hua", PASSWORD).await,
        423,
        "account_locked",
    )
    .await;

    // Only an admin may unlock; the refusal is audited with its code.
    let path = format!("/v1/admin/staff/{id}/unlock");
    assert_problem(
        app.post_as(&reviewer, &path, &json!({})).await,
        403,
        "role_required",
    )
    .await;
    let missing = format!("/v1/admin/staff/{}/unlock", uuid::Uuid::now_v7());
    assert_problem(
        app.post_as(&admin, &missing, &json!({})).await,
        404,
        "staff_not_found",
    )
    .await;
    assert_eq!(app.post_as(&admin, &path, &json!({})).await.status(), 204);
    assert_eq!(staff_login(&app, "fang.hua", PASSWORD).await.status(), 200);

    let audit: serde_json::Value = app
        .get_as(&admin, &format!("/v1/admin/audit?application={id}"))
        .await
        .json()
        .await
        .unwrap();
    let mut rows: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["actor_name"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["detail"].as_str().unwrap_or_default()
            )
        })
        .collect();
    rows.reverse();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].starts_with("fang.hua login.lock success from this address"),
        "{rows:?}"
    );
    assert_eq!(rows[1], "nosy.reviewer staff.unlock denied role_required");
    assert!(
        rows[2].starts_with("the.admin staff.unlock success throttle rows cleared"),
        "{rows:?}"
    );
}
