//! `[rate_limits]`: per client address on both logins and the courier webhook, per account on both
//! logins, per citizen on new applications, upload tickets and page uploads. Over a limit is 429
//! `rate_limited` with `Retry-After` (the webhook answers in SF's format instead).

use beebox::config::RateLimit;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::cases::{create, new_application};
use crate::support::pages::{jpeg, upload};
use crate::support::staff::{PASSWORD, seed_staff, staff_login};
use crate::support::{assert_problem, spawn_app, spawn_app_with};

const ITEM: &str = "social-security-card-replacement";

/// A limit that lets `burst` through at once, then one a minute.
fn burst<const M: u32, const B: u32>(burst: u32) -> RateLimit<M, B> {
    RateLimit::new(1, burst)
}

/// Asserts the 429 problem and a `Retry-After` of a whole number of seconds, at least 1.
async fn assert_limited(response: reqwest::Response) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert_problem(response, 429, "rate_limited").await;
    retry_after
}

#[tokio::test]
async fn a_citizen_over_the_drafts_limit_gets_429_and_another_citizen_does_not() {
    let app = spawn_app_with(|c| c.rate_limits.applications_per_citizen = burst(3)).await;
    let busy = app.citizen_token("busy").await;
    let other = app.citizen_token("other").await;
    for _ in 0..3 {
        create(&app, &busy, ITEM).await;
    }
    let refused = app
        .post_as(&busy, "/v1/applications", &new_application(ITEM))
        .await;
    // One a minute: the next draft is about a minute away.
    let retry_after = assert_limited(refused).await;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    create(&app, &other, ITEM).await;
    let mine: Value = app
        .get_as(&busy, "/v1/applications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 3, "{mine}");
}

#[tokio::test]
async fn the_default_limits_stop_a_scripted_burst_of_drafts() {
    let app = spawn_app().await;
    let token = app.citizen_token("script").await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        let response = app
            .post_as(&token, "/v1/applications", &new_application(ITEM))
            .await;
        statuses.push(response.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 201), "{statuses:?}");
    assert!(statuses[20..].contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn the_default_limits_stop_a_flood_of_new_citizens_from_one_address() {
    let app = spawn_app().await;
    let mut accepted = 0;
    let refused = loop {
        let response = app.wechat_login(&format!("dev:flood-{accepted}")).await;
        if response.status() != 200 {
            break response;
        }
        accepted += 1;
        assert!(accepted < 400, "400 new citizens from one address in a row");
    };
    assert_limited(refused).await;
    // The burst of 300, plus what refilled meanwhile (10 a second).
    assert!(accepted >= 300, "{accepted}");
}

#[tokio::test]
async fn page_uploads_and_upload_tickets_are_limited_per_citizen() {
    let app = spawn_app_with(|c| {
        c.rate_limits.page_uploads_per_citizen = burst(2);
        c.rate_limits.upload_tickets_per_citizen = burst(1);
    })
    .await;
    let token = app.citizen_token("pages").await;
    let other = app.citizen_token("pages-other").await;
    let id = create(&app, &token, ITEM).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_id = create(&app, &other, ITEM).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for seed in 0..2 {
        let response = upload(&app, &token, &id, "id-card", jpeg(seed), "p.jpg").await;
        assert_eq!(response.status(), 201);
    }
    assert_limited(upload(&app, &token, &id, "id-card", jpeg(2), "p.jpg").await).await;
    let response = upload(&app, &other, &other_id, "id-card", jpeg(3), "p.jpg").await;
    assert_eq!(
        response.status(),
        201,
        "another citizen's pages still go up"
    );

    // A fresh draft: the first one's ID card has all its pages.
    let id = create(&app, &token, ITEM).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = jpeg(4);
    let ticket = json!({"content_type": "image/jpeg", "size": bytes.len(),
                        "sha256": hex::encode(Sha256::digest(&bytes))});
    let path = format!("/v1/applications/{id}/materials/id-card/uploads");
    assert_eq!(app.post_as(&token, &path, &ticket).await.status(), 201);
    assert_limited(app.post_as(&token, &path, &ticket).await).await;
    let other_path = format!("/v1/applications/{other_id}/materials/id-card/uploads");
    assert_eq!(
        app.post_as(&other, &other_path, &ticket).await.status(),
        201
    );
}

#[tokio::test]
async fn citizen_logins_are_limited_per_address_and_per_account() {
    let app = spawn_app_with(|c| {
        c.rate_limits.citizen_login_per_ip = burst(4);
        c.rate_limits.citizen_login_per_account = burst(2);
    })
    .await;
    // One account: two logins, then 429; a second account still logs in.
    for _ in 0..2 {
        assert_eq!(app.wechat_login("dev:same").await.status(), 200);
    }
    assert_limited(app.wechat_login("dev:same").await).await;
    assert_eq!(app.wechat_login("dev:second").await.status(), 200);
    // Four logins from this address so far (the refused one counted too): the next is refused.
    assert_limited(app.wechat_login("dev:third").await).await;
}

#[tokio::test]
async fn staff_logins_are_limited_per_address_and_per_username() {
    let app = spawn_app_with(|c| {
        c.rate_limits.staff_login_per_ip = burst(5);
        c.rate_limits.staff_login_per_account = burst(2);
    })
    .await;
    seed_staff(&app, "wang.fang", "reviewer", "civil-affairs").await;
    seed_staff(&app, "li.na", "reviewer", "civil-affairs").await;
    for _ in 0..2 {
        let response = staff_login(&app, "wang.fang", PASSWORD).await;
        assert_eq!(response.status(), 200);
    }
    // Right password or not, the username has had its share.
    assert_limited(staff_login(&app, "wang.fang", PASSWORD).await).await;
    assert_limited(staff_login(&app, "Wang.Fang", "wrong").await).await;
    let response = staff_login(&app, "li.na", PASSWORD).await;
    assert_eq!(response.status(), 200);
    // The sixth login from this address, whoever it is for.
    assert_limited(staff_login(&app, "li.na", PASSWORD).await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_it_added_is_the_key() {
    let app = spawn_app_with(|c| {
        c.server.trust_forwarded_for = true;
        c.rate_limits.citizen_login_per_ip = burst(1);
    })
    .await;
    assert_eq!(
        app.wechat_login_from("203.0.113.7", "dev:a").await.status(),
        200
    );
    assert_limited(app.wechat_login_from("203.0.113.7", "dev:b").await).await;
    // A client cannot pick its address: entries before the proxy's own are its to invent.
    assert_limited(
        app.wechat_login_from("198.51.100.1, 203.0.113.7", "dev:c")
            .await,
    )
    .await;
    assert_eq!(
        app.wechat_login_from("203.0.113.8", "dev:d").await.status(),
        200
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(|c| c.rate_limits.citizen_login_per_ip = burst(1)).await;
    assert_eq!(
        app.wechat_login_from("203.0.113.7", "dev:a").await.status(),
        200
    );
    // Another claimed address changes nothing: the peer (127.0.0.1) is the key.
    assert_limited(app.wechat_login_from("203.0.113.8", "dev:b").await).await;
}

#[tokio::test]
async fn a_flood_of_pushes_is_refused_in_sfs_format_before_any_signature_work() {
    let app = spawn_app_with(|c| c.rate_limits.webhook_per_ip = burst(2)).await;
    let push = |body: &'static str| {
        app.client
            .post(app.url("/v1/webhooks/courier/sf?secret=guess"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(push("msgData=x").await.unwrap().status(), 401);
    }
    let refused = push("msgData=x").await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let content_type = refused.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "SF's format, not a problem: {content_type}"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["return_code"], "1000", "{body}");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"beebox_webhook_rejected_total{partner="sf",reason="rate_limited"} 1"#,
        r#"beebox_webhook_rejected_total{partner="sf",reason="unauthenticated"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
