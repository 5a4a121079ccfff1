//! Staff login with throttling and lockout, admin management of staff, and the audit log.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::answers::field_pairs;
use crate::support::staff::{PASSWORD, seed_staff, staff_login, staff_login_from, staff_token};
use crate::support::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn staff_login_returns_a_token_pair_with_roles_and_departments() {
    let app = spawn_app().await;
    seed_staff(&app, "li.ming", "reviewer", "civil-affairs").await;
    let response = staff_login(&app, "Li.Ming", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["staff"]["username"], "li.ming");
    assert_eq!(body["staff"]["roles"], json!(["reviewer"]));
    assert_eq!(body["staff"]["departments"], json!(["civil-affairs"]));
    assert!(body["citizen"].is_null());
    let claims =
        beebox::auth::verify_access_token(&app.state.keys, body["access_token"].as_str().unwrap())
            .unwrap();
    assert_eq!(claims.kind, beebox::auth::SubjectKind::Staff);
    assert_eq!(claims.roles, ["reviewer"]);
    assert_eq!(claims.departments, ["civil-affairs"]);
    // The refresh token works for staff too.
    let refreshed = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": body["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_answer_alike() {
    // Six tries each must not lock either name.
    let app = spawn_app_with(|c| {
        c.auth.login_lock_after = 10;
        c.auth.login_global_lock_after = 10;
        c.server.trust_forwarded_for = true;
    })
    .await;
    seed_staff(&app, "wang.fang", "reviewer", "").await;
    // The fastest of several tries stands for each: a busy machine only ever adds time, so the
    // minimum is what the service itself spends. The first round warms both paths and is not timed.
    // Each round comes from another address: the deliberate slowdown from an address's third
    // failure on would otherwise leave one untimed-delay try per name to compare.
    let mut wrong = Duration::MAX;
    let mut unknown = Duration::MAX;
    for round in 0..6 {
        let address = format!("198.51.100.{}", round + 1);
        let started = Instant::now();
        let a = assert_problem(
            staff_login_from(&app, &address, "wang.fang", "not the password!").await,
            401,
            "invalid_credentials",
        )
        .await;
        let took_wrong = started.elapsed();
        let started = Instant::now();
        let b = assert_problem(
            staff_login_from(&app, &address, "nobody.here", "not the password!").await,
            401,
            "invalid_credentials",
        )
        .await;
        let took_unknown = started.elapsed();
        assert_eq!(a["detail"], b["detail"]);
        assert_eq!(a["title"], b["title"]);
        if round > 0 {
            wrong = wrong.min(took_wrong);
            unknown = unknown.min(took_unknown);
        }
    }
    // Both pay for a full password hash: neither answers in a fraction of the other's time.
    let (fast, slow) = if wrong < unknown {
        (wrong, unknown)
    } else {
        (unknown, wrong)
    };
    assert!(
        fast * 3 > slow,
        "wrong password {wrong:?} vs unknown user {unknown:?}"
    );
}

#[tokio::test]
async fn repeated_failures_lock_a_username_whether_or_not_it_exists() {
    let app = spawn_app_with(|c| c.auth.login_lock_after = 3).await;
    seed_staff(&app, "zhao.lei", "reviewer", "").await;
    for username in ["zhao.lei", "ghost.user"] {
        for _ in 0..3 {
            assert_problem(
                staff_login(&app, username, "wrong password!!").await,
                401,
                "invalid_credentials",
            )
            .await;
        }
        // Locked now: even the right password is refused, with a clear code.
        let response = staff_login(&app, username, PASSWORD).await;
        assert!(response.headers().contains_key("retry-after"));
        assert_problem(response, 423, "account_locked").await;
    }
    // Another member is unaffected.
    seed_staff(&app, "qian.yu", "reviewer", "").await;
    assert_eq!(staff_login(&app, "qian.yu", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn citizen_tokens_are_refused_on_admin_paths_and_non_admins_too() {
    let app = spawn_app().await;
    let citizen = app.citizen_token("curious").await;
    assert_problem(
        app.get_as(&citizen, "/v1/admin/staff").await,
        403,
        "staff_only",
    )
    .await;
    assert_problem(
        app.get_as(&citizen, "/v1/admin/audit").await,
        403,
        "staff_only",
    )
    .await;
    let reviewer = staff_token(&app, "sun.li", "reviewer", "").await;
    assert_problem(
        app.get_as(&reviewer, "/v1/admin/staff").await,
        403,
        "role_required",
    )
    .await;
    // And staff tokens are not citizen tokens.
    assert_problem(
        app.get_as(&reviewer, "/v1/applications").await,
        403,
        "citizen_only",
    )
    .await;
}

#[tokio::test]
async fn admins_manage_staff_and_changes_take_effect_at_once() {
    let app = spawn_app().await;
    let admin = staff_token(&app, "admin", "admin", "").await;
    let created = app
        .post_as(
            &admin,
            "/v1/admin/staff",
            &json!({"username": "Zhou.Qing", "display_name": "周青", "password": PASSWORD,
                    "roles": ["reviewer"], "departments": ["civil-affairs"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["username"], "zhou.qing");
    let id = created["id"].as_str().unwrap().to_string();

    let duplicate = app
        .post_as(
            &admin,
            "/v1/admin/staff",
            &json!({"username": "zhou.qing", "display_name": "x", "password": PASSWORD,
                    "roles": ["reviewer"], "departments": []}),
        )
        .await;
    assert_problem(duplicate, 409, "username_taken").await;
    let invalid = app
        .post_as(
            &admin,
            "/v1/admin/staff",
            &json!({"username": "x", "display_name": "x", "password": "short",
                    "roles": ["boss"], "departments": ["no-such-dept"]}),
        )
        .await;
    let problem = assert_problem(invalid, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "password", "roles", "departments"]);

    // The new member logs in; re-roling them shows on their very next request.
    let login: serde_json::Value = staff_login(&app, "zhou.qing", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    assert_problem(
        app.get_as(&token, "/v1/admin/staff").await,
        403,
        "role_required",
    )
    .await;
    let rerole = app
        .client
        .put(app.url(&format!("/v1/admin/staff/{id}/roles")))
        .bearer_auth(&admin)
        .json(&json!({"roles": ["reviewer", "admin"], "departments": ["civil-affairs", "health-commission"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(rerole.status(), 200);
    assert_eq!(app.get_as(&token, "/v1/admin/staff").await.status(), 200);

    // Disabling ends the sessions at once: access token, refresh token and login.
    let disabled = app
        .post_as(&admin, &format!("/v1/admin/staff/{id}/disable"), &json!({}))
        .await;
    assert_eq!(disabled.status(), 200);
    assert_problem(
        app.get_as(&token, "/v1/admin/staff").await,
        401,
        "account_disabled",
    )
    .await;
    let refresh = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_problem(refresh, 401, "refresh_token_invalid").await;
    // The right password learns the account is disabled; a wrong one learns nothing.
    assert_problem(
        staff_login(&app, "zhou.qing", PASSWORD).await,
        403,
        "account_disabled",
    )
    .await;
    assert_problem(
        staff_login(&app, "zhou.qing", "not the password!").await,
        401,
        "invalid_credentials",
    )
    .await;

    // Enabled again with a new password.
    assert_eq!(
        app.post_as(&admin, &format!("/v1/admin/staff/{id}/enable"), &json!({}))
            .await
            .status(),
        200
    );
    let reset = app
        .post_as(
            &admin,
            &format!("/v1/admin/staff/{id}/password"),
            &json!({"password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(
        staff_login(&app, "zhou.qing", "a brand new passphrase")
            .await
            .status(),
        200
    );
    assert_problem(
        staff_login(&app, "zhou.qing", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;

    // An admin cannot lock themselves out.
    let me: serde_json::Value = staff_login(&app, "admin", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let my_id = me["staff"]["id"].as_str().unwrap();
    assert_problem(
        app.post_as(
            &admin,
            &format!("/v1/admin/staff/{my_id}/disable"),
            &json!({}),
        )
        .await,
        409,
        "cannot_lock_out_self",
    )
    .await;

    let list: serde_json::Value = app
        .get_as(&admin, "/v1/admin/staff")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_audit_log_records_logins_and_admin_changes_and_cannot_be_altered() {
    let app = spawn_app().await;
    let admin = staff_token(&app, "auditor", "admin", "").await;
    staff_login(&app, "auditor", "bad password here").await;
    app.post_as(
        &admin,
        "/v1/admin/staff",
        &json!({"username": "new.one", "display_name": "New", "password": PASSWORD,
                "roles": ["reception"], "departments": []}),
    )
    .await;
    let page: serde_json::Value = app
        .get_as(&admin, "/v1/admin/audit")
        .await
        .json()
        .await
        .unwrap();
    let actions = field_pairs(&page, "action", "outcome");
    assert_eq!(
        actions,
        [
            ("staff.create".to_string(), "success".to_string()),
            ("login".into(), "failure".into()),
            ("login".into(), "success".into()),
        ]
    );
    let newest = &page["items"][0];
    assert_eq!(newest["actor_name"], "auditor");
    assert_eq!(newest["target_kind"], "staff");
    assert_eq!(newest["client_ip"], "127.0.0.1");

    let logins: serde_json::Value = app
        .get_as(&admin, "/v1/admin/audit?action=login&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(logins["items"].as_array().unwrap().len(), 1);
    assert_eq!(logins["items"][0]["outcome"], "failure");
    let cursor = logins["next_cursor"].as_str().unwrap();
    let older: serde_json::Value = app
        .get_as(
            &admin,
            &format!("/v1/admin/audit?action=login&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(older["items"][0]["outcome"], "success");
    assert!(older["next_cursor"].is_null());

    // The database itself refuses to change or remove audit rows.
    use sea_orm::ConnectionTrait;
    let db = app.state.database().unwrap();
    assert!(
        db.execute_unprepared("UPDATE audit_log SET outcome = 'success'")
            .await
            .is_err()
    );
    assert!(
        db.execute_unprepared("DELETE FROM audit_log")
            .await
            .is_err()
    );
    let after: serde_json::Value = app
        .get_as(&admin, "/v1/admin/audit")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn create_admin_command_makes_a_working_admin() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let url = crate::support::fresh_database_url(dir.path()).await;
    let mut child = crate::support::binary::beebox_command(dir.path())
        .args(["staff", "create-admin", "--username", "root.admin"])
        .env("BEEBOX_DATABASE__URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created admin root.admin"));

    let app = spawn_app_with(|c| c.database.url = Some(beebox::config::Secret::new(url))).await;
    let login = staff_login(&app, "root.admin", PASSWORD).await;
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.unwrap();
    assert_eq!(body["staff"]["roles"], json!(["admin"]));
}
