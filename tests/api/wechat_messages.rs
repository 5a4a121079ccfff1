//! Subscribe messages against a local WeChat: the access token shared through the database by
//! every instance, its refresh after a rejection, how send failures are classified, and how field
//! values are cut to their type's limit.

use std::collections::BTreeMap;
use std::time::Duration;

use beebox::integrations::wechat::{SendError, SubscribeMessage, fit_field};
use beebox::notify::wechat_token::TokenSource;
use beebox::store::wechat_tokens;
use chrono::Utc;

use crate::support::wechat::{APP_ID, APP_SECRET, Fault, WechatServer};
use crate::support::{TestApp, spawn_app_with};

async fn app_with(server: &WechatServer) -> TestApp {
    spawn_app_with(|c| {
        server.configure(c);
        // Short, so that the timeout fault costs little.
        c.wechat.timeout_ms = 500;
    })
    .await
}

/// One instance's view of the token: another `TokenSource` on the same database is another
/// instance.
fn instance(app: &TestApp) -> TokenSource {
    TokenSource::new(
        app.state.wechat.clone(),
        app.state.keys.clone(),
        app.config.wechat.subscribe.token_refresh_margin_secs,
    )
}

fn message(touser: &str) -> SubscribeMessage {
    let data: BTreeMap<String, String> = [
        (
            "thing1",
            "城乡居民基本养老保险参保登记及个人缴费档次变更申请",
        ),
        ("character_string2", "BB20261128000123"),
        ("phrase3", "已退回补正"),
        ("time4", "2026年11月28日 15:01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), fit_field(k, v)))
    .collect();
    SubscribeMessage {
        touser: touser.into(),
        template_id: "tmpl-returned".into(),
        page: "pages/applications/detail?id=42".into(),
        miniprogram_state: "trial".into(),
        data,
    }
}

#[tokio::test]
async fn one_token_is_fetched_once_and_shared_by_every_instance() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().expect("database ready");
    let (first, second) = (instance(&app), instance(&app));

    let (a, b) = tokio::join!(first.get(db), second.get(db));
    let token = a.unwrap();
    assert_eq!(b.unwrap(), token);
    assert_eq!(server.token_calls(), 1);

    for source in [&first, &second] {
        assert_eq!(source.get(db).await.unwrap(), token);
    }
    assert_eq!(server.token_calls(), 1, "later calls read the shared row");

    let row = wechat_tokens::find(db, APP_ID)
        .await
        .unwrap()
        .expect("a row");
    let stored = row.token_enc.expect("a stored token");
    assert!(!stored.contains(&token), "the token is stored encrypted");
    assert_eq!(app.state.keys.data.decrypt(&stored), Some(token));
    assert!(row.refresh_lease_until.is_none(), "the lease is given back");
    assert!(row.expires_at.expect("an expiry") > Utc::now() + chrono::Duration::hours(1));
}

#[tokio::test]
async fn a_token_inside_the_refresh_margin_is_replaced_early() {
    let server = WechatServer::start().await;
    // Tokens live 2 minutes, well inside the default 5-minute margin.
    server.set_token_lifetime(Duration::from_secs(120));
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    let source = instance(&app);

    let first = source.get(db).await.unwrap();
    let second = instance(&app).get(db).await.unwrap();

    assert_ne!(second, first, "the token close to expiry was renewed");
    assert_eq!(server.token_calls(), 2);
    assert_eq!(
        server.forced_token_calls(),
        0,
        "renewing early needs no forced refresh"
    );
    assert_eq!(server.current_token(), Some(second));
}

#[tokio::test]
async fn an_expired_stored_token_is_never_handed_out() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    let now = Utc::now();
    let stale = app.state.keys.data.encrypt("tok-stale");
    wechat_tokens::store(db, APP_ID, stale, now - chrono::Duration::seconds(1), now)
        .await
        .unwrap();

    let token = instance(&app).get(db).await.unwrap();

    assert_ne!(token, "tok-stale");
    assert_eq!(server.token_calls(), 1);
    assert_eq!(instance(&app).get(db).await.unwrap(), token);
    assert_eq!(server.token_calls(), 1);
}

#[tokio::test]
async fn a_rejected_token_is_force_refreshed_once_and_the_retry_succeeds() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    let client = &app.state.wechat;
    let (first, second) = (instance(&app), instance(&app));
    let used = first.get(db).await.unwrap();
    server.expire_token();

    let error = client
        .send_subscribe(&used, &message("wx-alice"))
        .await
        .unwrap_err();
    assert_eq!(error, SendError::TokenInvalid(40001));
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(&used) && !text.contains("wx-alice"),
        "{text}"
    );

    // Two instances hit the rejection at once: one forced refresh serves both.
    let (a, b) = tokio::join!(
        first.refresh_after_rejection(db, &used),
        second.refresh_after_rejection(db, &used)
    );
    let fresh = a.unwrap();
    assert_eq!(b.unwrap(), fresh);
    assert_ne!(fresh, used);
    assert_eq!(server.forced_token_calls(), 1);

    client
        .send_subscribe(&fresh, &message("wx-alice"))
        .await
        .expect("the retry is accepted");
    let sent = server.sent_to("wx-alice");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].access_token, fresh);
    assert_eq!(sent[0].template_id, "tmpl-returned");
    assert_eq!(sent[0].page, "pages/applications/detail?id=42");
    assert_eq!(sent[0].miniprogram_state, "trial");
    assert_eq!(sent[0].lang, "zh_CN");
    assert_eq!(sent[0].data["phrase3"], "已退回补正");
    assert_eq!(sent[0].data["thing1"].chars().count(), 20);

    // A late instance still holding the old token gets the new one, without another refresh.
    assert_eq!(
        first.refresh_after_rejection(db, &used).await.unwrap(),
        fresh
    );
    assert_eq!(second.get(db).await.unwrap(), fresh);
    assert_eq!(server.forced_token_calls(), 1);
}

#[tokio::test]
async fn send_failures_are_classified_for_retry_skip_or_give_up() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    let token = instance(&app).get(db).await.unwrap();
    server.script_send(
        "wx-bob",
        vec![
            Fault::Errcode(-1),
            Fault::Errcode(43101),
            Fault::Timeout,
            Fault::Http(502),
            Fault::Errcode(45047),
            Fault::Errcode(40003),
            Fault::Delay(Duration::from_millis(100)),
        ],
    );
    let to_bob = message("wx-bob");
    let send = || app.state.wechat.send_subscribe(&token, &to_bob);

    let mut errors = Vec::new();
    for expected in [
        "retryable",
        "no consent",
        "retryable",
        "retryable",
        "retryable",
        "permanent",
    ] {
        let error = send().await.unwrap_err();
        let kind = match &error {
            SendError::Retryable(_) => "retryable",
            SendError::NoConsent => "no consent",
            SendError::Permanent(40003, _) => "permanent",
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(kind, expected, "{error}");
        errors.push(error);
    }
    assert_eq!(errors[2], SendError::Retryable("timed out".into()));
    for error in &errors {
        let text = format!("{error} {error:?}");
        assert!(!text.contains(&token) && !text.contains("wx-bob"), "{text}");
    }

    send()
        .await
        .expect("a slow answer within the timeout succeeds");
    assert_eq!(server.sent_to("wx-bob").len(), 1);
    assert!(server.sent_to("wx-alice").is_empty());
}

#[tokio::test]
async fn a_value_longer_than_its_field_allows_is_refused_for_good() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    let token = instance(&app).get(db).await.unwrap();
    let mut uncut = message("wx-carol");
    uncut.data.insert("thing1".into(), "事".repeat(21));

    let error = app
        .state
        .wechat
        .send_subscribe(&token, &uncut)
        .await
        .unwrap_err();

    assert!(matches!(error, SendError::Permanent(47003, _)), "{error}");
    assert!(server.sent_all().is_empty());
}

#[tokio::test]
async fn a_failed_token_fetch_lets_the_next_call_try_at_once() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    server.script_token(vec![Fault::Errcode(-1)]);
    let source = instance(&app);

    let error = source.get(db).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("errcode -1"), "{text}");
    assert!(!text.contains(APP_SECRET), "{text}");

    let started = std::time::Instant::now();
    let token = instance(&app).get(db).await.unwrap();
    assert!(token.starts_with("tok-"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the failed fetch gave the lease back"
    );
    assert_eq!(server.token_calls(), 2);
}

#[tokio::test]
async fn a_lease_left_by_a_vanished_instance_runs_out() {
    let server = WechatServer::start().await;
    let app = app_with(&server).await;
    let db = app.state.database().unwrap();
    // An instance took the refresh lease and died before storing a token.
    let taken = wechat_tokens::try_lease(db, APP_ID, Utc::now(), chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert!(taken);
    assert!(
        !wechat_tokens::try_lease(db, APP_ID, Utc::now(), chrono::Duration::seconds(1))
            .await
            .unwrap(),
        "a live lease is not taken twice"
    );

    let started = std::time::Instant::now();
    let token = instance(&app).get(db).await.unwrap();

    assert!(token.starts_with("tok-"));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "waited for the lease"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took over once it ran out"
    );
    assert_eq!(server.token_calls(), 1);
}

#[test]
fn fit_field_cuts_values_to_their_type_limits() {
    let long = "城乡居民基本养老保险参保登记及个人缴费档次变更申请";
    let thing = fit_field("thing1", long);
    assert_eq!(thing.chars().count(), 20);
    assert!(thing.ends_with('…'));
    assert!(long.starts_with(thing.trim_end_matches('…')));
    assert_eq!(fit_field("thing12", "补正材料"), "补正材料");
    assert_eq!(fit_field("phrase3", "审核未通过退回"), "审核未通过");
    assert_eq!(
        fit_field("character_string2", &"A".repeat(40)),
        "A".repeat(32)
    );
    assert_eq!(fit_field("number5", &"9".repeat(33)).len(), 32);
    assert_eq!(
        fit_field("name6", "欧阳娜娜娜娜娜娜娜娜娜"),
        "欧阳娜娜娜娜娜娜娜娜"
    );
    assert_eq!(
        fit_field("name6", "Alexandra Montgomery-Smith"),
        "Alexandra Montgomery"
    );
    assert_eq!(fit_field("car_number7", "粤A8Z888挂X"), "粤A8Z888挂");
    assert_eq!(
        fit_field("time4", "2026年11月28日 15:01 ~ 2026年11月29日 15:01"),
        "2026年11月28日 15:01 ~ 2026年11月29日 15:01"
    );
}
