//! Retention and destruction of personal data, over both real stores: an ended case loses its
//! photos, result files and personal fields on its item's dates and keeps its skeleton; a
//! legal hold stops it; abandoned drafts are cancelled first; a citizen deletes their account;
//! a period shorter than a case's open life is refused at import.

use std::time::{Duration, Instant};

use beebox::config::Config;
use beebox::storage::ObjectKey;
use serde_json::{Value, json};

use crate::support::answers::json_of;
use crate::support::binary::beebox;
use crate::support::cases::{CIVIL, Desk, decide, draft, submitted_case, upload_result};
use crate::support::pages::{jpeg, upload};
use crate::support::s3::{S3Server, on_s3};
use crate::support::seeds::{passed_case, waiting_case};
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, fresh_database_url, spawn_app_with};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Photos 20 days after the end, result files 40, personal fields 60; drafts abandoned at 30.
fn periods(c: &mut Config) {
    c.retention.photos_days = 20;
    c.retention.results_days = 40;
    c.retention.personal_days = 60;
    c.retention.abandoned_days = 30;
    // The scheduled run: once at start-up (awaited by `later`), then at UTC midnight.
    c.retention.every_secs = 86_400;
    c.jobs.poll_ms = 50;
}

async fn apply(app: &TestApp) -> beebox::cases::retention::RetentionRun {
    let db = app.state.database().unwrap();
    app.state.cases.apply_retention(db).await.unwrap()
}

/// Moves the clock on, once the scheduled retention run of start-up is over: the test's own
/// runs are then the only ones that see the new date.
async fn later(app: &TestApp, days: u32) {
    use beebox::store::jobs::job;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = app.state.database().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = job::Entity::find()
            .filter(job::Column::Kind.eq("apply_retention"))
            .all(db)
            .await
            .unwrap();
        if !runs.is_empty() && runs.iter().all(|j| j.state == "done") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled run never finished: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.state.clock.advance(DAY * days);
}

/// The keys of every object a case's pages and result files name.
async fn object_keys(app: &TestApp, id: &str) -> Vec<ObjectKey> {
    use beebox::store::department::result_file;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = app.state.database().unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    let mut keys = Vec::new();
    for page in beebox::store::pages::of_application(db, id).await.unwrap() {
        keys.push(page.object_key);
        keys.extend(page.thumbnail_key);
    }
    let results = result_file::Entity::find()
        .filter(result_file::Column::ApplicationId.eq(id))
        .all(db)
        .await
        .unwrap();
    keys.extend(results.into_iter().map(|r| r.object_key));
    keys.into_iter()
        .map(|k| ObjectKey::parse(k).unwrap())
        .collect()
}

async fn wait_gone(app: &TestApp, keys: &[ObjectKey]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for key in keys {
        while app.state.store.head(key).await.is_ok() {
            assert!(Instant::now() < deadline, "{key:?} was never deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn retention_of(app: &TestApp, admin: &str, id: &str) -> Value {
    json_of(
        app.get_as(admin, &format!("/v1/admin/applications/{id}/retention"))
            .await,
        200,
    )
    .await
}

async fn row(app: &TestApp, id: &str) -> beebox::store::applications::application::Model {
    beebox::store::applications::find(app.state.database().unwrap(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

async fn destroys_each_part_on_its_date(app: TestApp) {
    let admin = staff_token(&app, "keeper", "admin", CIVIL).await;
    let approver = staff_token(&app, "decider", "approver", CIVIL).await;
    // A case the citizen withdrew, with three photos and their thumbnails.
    let citizen = app.citizen_token("leaver").await;
    let withdrawn = submitted_case(&app, &citizen, Some("leaver@example.com"), 40).await;
    let cancelled = app
        .post_as(
            &citizen,
            &format!("/v1/applications/{withdrawn}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    // A case the department refused, with a result file.
    let (refused_token, refused) = waiting_case(&app, "refused", "elderly-preferential-card").await;
    json_of(
        upload_result(&app, &approver, &refused, jpeg(90), "决定书.jpg").await,
        201,
    )
    .await;
    json_of(
        decide(
            &app,
            &approver,
            Desk::Department,
            &refused,
            json!({"outcome": "refused", "note": "材料不符"}),
        )
        .await,
        200,
    )
    .await;
    // A case still open is never touched.
    let (_, open) = passed_case(&app, "still-open").await;

    let photos = object_keys(&app, &withdrawn).await;
    assert!(photos.len() >= 3, "{photos:?}");
    let result_files = object_keys(&app, &refused).await;
    assert_eq!(result_files.len(), 1);
    let before = retention_of(&app, &admin, &withdrawn).await;
    let ended: chrono::DateTime<chrono::Utc> =
        before["ended_at"].as_str().unwrap().parse().unwrap();
    let at = |v: &Value| {
        v.as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
    };
    assert_eq!(before["legal_hold"], false);
    assert!(before["photos"]["due_at"].as_str().is_some());
    assert_eq!(before["destructions"], json!([]));
    let open_view = retention_of(&app, &admin, &open).await;
    assert!(open_view.get("ended_at").is_none(), "{open_view}");
    assert!(open_view["photos"].get("due_at").is_none(), "{open_view}");

    // Nothing is due the day after.
    later(&app, 1).await;
    assert_eq!(apply(&app).await, Default::default());

    // Day 21: the photos go; the names and the result file stay.
    later(&app, 20).await;
    let run = apply(&app).await;
    assert_eq!(
        (run.photos, run.results, run.personal),
        (2, 0, 0),
        "{run:?}"
    );
    wait_gone(&app, &photos).await;
    for key in &result_files {
        assert!(
            app.state.store.head(key).await.is_ok(),
            "the result file went early"
        );
    }
    let case = json_of(
        app.get_as(&citizen, &format!("/v1/applications/{withdrawn}"))
            .await,
        200,
    )
    .await;
    for material in case["materials"].as_array().unwrap() {
        assert_eq!(material["pages"], json!([]), "{material}");
    }
    assert_eq!(case["applicant"]["name"], "张三");
    let view = retention_of(&app, &admin, &withdrawn).await;
    assert!(view["photos"]["destroyed_at"].as_str().is_some(), "{view}");
    assert_eq!(
        at(&view["personal_fields"]["due_at"]),
        Some(ended + chrono::Duration::days(60))
    );
    assert_eq!(view["destructions"][0]["part"], "photos");
    assert_eq!(view["destructions"][0]["reason"], "retention");
    assert_eq!(view["destructions"][0]["objects"], photos.len());
    // A second run finds nothing: each part goes once.
    assert_eq!(apply(&app).await, Default::default());

    // Day 61: the result file and the personal fields go too.
    later(&app, 40).await;
    let run = apply(&app).await;
    assert_eq!(
        (run.photos, run.results, run.personal),
        (0, 2, 2),
        "{run:?}"
    );
    wait_gone(&app, &result_files).await;
    let stored = row(&app, &withdrawn).await;
    assert_eq!(stored.applicant_name, "");
    assert_eq!(stored.applicant_phone, "");
    assert_eq!(stored.applicant_id_number_enc, None);
    assert_eq!(stored.applicant_email, None);
    assert_eq!(stored.return_address, None);
    assert_eq!(stored.note, None);
    // The skeleton stays: state, item, dates and the timeline.
    assert_eq!(stored.state, "cancelled");
    assert_eq!(stored.matter_code, "social-security-card-replacement");
    assert_eq!(
        app.timeline_actions(&citizen, &withdrawn).await,
        ["create", "submit", "cancel"]
    );
    let case = json_of(
        app.get_as(&refused_token, &format!("/v1/applications/{refused}"))
            .await,
        200,
    )
    .await;
    assert_eq!(case["state"], "refused");
    assert_eq!(case["applicant"]["name"], "");
    let view = retention_of(&app, &admin, &refused).await;
    let parts: Vec<&str> = view["destructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["part"].as_str().unwrap())
        .collect();
    // Its photos went on day 21 too: it had none (a seeded case).
    assert_eq!(parts, ["photos", "results", "personal"], "{view}");
    assert_eq!(view["destructions"][0]["objects"], 0);
    assert_eq!(view["destructions"][1]["objects"], 1);
    assert!(
        view["destructions"][2]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("applicant_id_number")),
        "{view}"
    );
    // The open case kept everything.
    assert_eq!(row(&app, &open).await.applicant_name, "张三");
    assert_eq!(apply(&app).await, Default::default());
}

#[tokio::test]
async fn an_ended_case_loses_each_part_on_its_date_on_the_filesystem() {
    destroys_each_part_on_its_date(spawn_app_with(periods).await).await;
}

#[tokio::test]
async fn an_ended_case_loses_each_part_on_its_date_on_s3() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(|c| {
        periods(c);
        on_s3(&s3)(c);
    })
    .await;
    destroys_each_part_on_its_date(app).await;
}

#[tokio::test]
async fn a_legal_hold_stops_destruction_until_an_admin_lifts_it() {
    let app = spawn_app_with(periods).await;
    let admin = staff_token(&app, "holder", "admin", CIVIL).await;
    let reviewer = staff_token(&app, "not.admin", "reviewer", CIVIL).await;
    let citizen = app.citizen_token("held").await;
    let id = submitted_case(&app, &citizen, None, 60).await;
    let keys = object_keys(&app, &id).await;
    app.post_as(
        &citizen,
        &format!("/v1/applications/{id}/cancel"),
        &json!({}),
    )
    .await;

    let path = format!("/v1/admin/applications/{id}/legal-hold");
    let body = json!({"reason": "法院调取 (2026) 浙0106民初123号"});
    assert_problem(
        app.put_as(&reviewer, &path, &body).await,
        403,
        "role_required",
    )
    .await;
    assert_problem(app.put_as(&citizen, &path, &body).await, 403, "staff_only").await;
    assert_problem(
        app.put_as(&admin, &path, &json!({"reason": "   "})).await,
        422,
        "validation_failed",
    )
    .await;
    let unknown = format!("/v1/admin/applications/{}/legal-hold", uuid::Uuid::now_v7());
    assert_problem(
        app.put_as(&admin, &unknown, &body).await,
        404,
        "application_not_found",
    )
    .await;
    let held = json_of(app.put_as(&admin, &path, &body).await, 200).await;
    assert_eq!(held["legal_hold"], true);
    assert_eq!(held["hold"]["reason"], body["reason"]);
    assert!(held["photos"].get("due_at").is_none(), "{held}");

    later(&app, 100).await;
    assert_eq!(apply(&app).await, Default::default());
    for key in &keys {
        assert!(app.state.store.head(key).await.is_ok());
    }

    let lifted = json_of(app.delete_as(&admin, &path).await, 200).await;
    assert_eq!(lifted["legal_hold"], false);
    assert!(lifted.get("hold").is_none());
    // Lifting again changes nothing and is no error.
    json_of(app.delete_as(&admin, &path).await, 200).await;
    let run = apply(&app).await;
    assert_eq!(
        (run.photos, run.results, run.personal),
        (1, 1, 1),
        "{run:?}"
    );
    wait_gone(&app, &keys).await;

    let audit = json_of(
        app.get_as(&admin, &format!("/v1/admin/audit?target_id={id}"))
            .await,
        200,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"applications.legal_hold"), "{audit}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "applications.legal_hold_lifted")
            .count(),
        1,
        "{audit}"
    );
}

#[tokio::test]
async fn an_abandoned_draft_is_cancelled_then_follows_retention() {
    let app = spawn_app_with(periods).await;
    let (token, id) = draft(&app, "forgetful").await;
    let page = upload(&app, &token, &id, "id-card", jpeg(70), "a.jpg").await;
    assert_eq!(page.status(), 201);
    let keys = object_keys(&app, &id).await;
    // A draft touched recently is not abandoned.
    let (_, fresh) = draft(&app, "busy").await;

    later(&app, 29).await;
    let (fresh_token, _) = (app.citizen_token("busy").await, ());
    upload(&app, &fresh_token, &fresh, "id-card", jpeg(71), "b.jpg").await;
    later(&app, 2).await;
    let run = apply(&app).await;
    assert_eq!(run.abandoned, 1, "{run:?}");
    assert_eq!(row(&app, &id).await.state, "cancelled");
    assert_eq!(row(&app, &fresh).await.state, "draft");
    let events = json_of(
        app.get_as(&token, &format!("/v1/applications/{id}/events"))
            .await,
        200,
    )
    .await;
    let last = events["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "cancel");
    assert_eq!(last["actor_kind"], "system", "{last}");
    assert_eq!(last["reason"], "abandoned", "{last}");

    later(&app, 21).await;
    let run = apply(&app).await;
    assert_eq!(run.photos, 1, "{run:?}");
    wait_gone(&app, &keys).await;
}

#[tokio::test]
async fn a_citizen_deletes_their_account_and_learns_when_the_rest_goes() {
    let app = spawn_app_with(periods).await;
    let token = app.citizen_token("quitter").await;
    // A draft with a photo, a submitted case and a case withdrawn earlier.
    let draft_id = json_of(
        app.post_as(
            &token,
            "/v1/applications",
            &crate::support::cases::new_application("social-security-card-replacement"),
        )
        .await,
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        upload(&app, &token, &draft_id, "id-card", jpeg(80), "a.jpg")
            .await
            .status(),
        201
    );
    let draft_keys = object_keys(&app, &draft_id).await;
    let submitted = submitted_case(&app, &token, None, 81).await;
    let submitted_keys = object_keys(&app, &submitted).await;
    let withdrawn = submitted_case(&app, &token, None, 100).await;
    app.post_as(
        &token,
        &format!("/v1/applications/{withdrawn}/cancel"),
        &json!({}),
    )
    .await;

    // Someone whose originals are on their way cannot delete yet.
    let (busy, open) = passed_case(&app, "mid-way").await;
    let refused = app
        .client
        .delete(app.url("/v1/me"))
        .bearer_auth(&busy)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "account_has_open_cases");
    assert_eq!(problem["errors"][0]["field"], open.as_str(), "{problem}");
    assert_eq!(problem["errors"][0]["message"], "prereview_passed");

    later(&app, 1).await;
    let deleted = app
        .client
        .delete(app.url("/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let deleted = json_of(deleted, 200).await;
    assert_eq!(deleted["drafts_deleted"], json!([draft_id]));
    let cases = deleted["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{deleted}");
    for case in cases {
        assert_eq!(case["state"], "cancelled");
        assert!(case["photos"]["due_at"].as_str().is_some(), "{case}");
    }
    let now: chrono::DateTime<chrono::Utc> =
        deleted["deleted_at"].as_str().unwrap().parse().unwrap();
    let complete_by: chrono::DateTime<chrono::Utc> =
        deleted["complete_by"].as_str().unwrap().parse().unwrap();
    // The submitted case ended now; the personal fields go last, 60 days on.
    let last = now + chrono::Duration::days(60);
    assert!(
        (complete_by - last).num_milliseconds().abs() < 1000,
        "{complete_by} {last}"
    );

    // The draft went at once; the cancelled case's photos wait for their date.
    wait_gone(&app, &draft_keys).await;
    assert_eq!(row(&app, &draft_id).await.applicant_name, "");
    for key in &submitted_keys {
        assert!(app.state.store.head(key).await.is_ok());
    }
    // The session is over, and the same WeChat user now starts afresh.
    let after = app.get_as(&token, "/v1/applications").await;
    assert_eq!(after.status(), 401);
    let again = app.citizen_token("quitter").await;
    let list = json_of(app.get_as(&again, "/v1/applications").await, 200).await;
    assert_eq!(list["items"], json!([]));
    // The rest follows retention.
    later(&app, 61).await;
    let run = apply(&app).await;
    assert_eq!((run.photos, run.personal), (2, 2), "{run:?}");
    wait_gone(&app, &submitted_keys).await;
}

#[test]
fn a_retention_shorter_than_a_case_s_open_life_is_refused_at_import() {
    let dir = tempfile::tempdir().unwrap();
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fresh_database_url(dir.path()));
    let file = dir.path().join("matters.toml");
    // The elderly card: 24 h pre-review and 5 processing days, 6 days open at most.
    let short = beebox::startup::SAMPLE_CATALOG.replacen(
        "department = { code = \"civil-affairs\", name = \"区民政局\" }\n",
        "department = { code = \"civil-affairs\", name = \"区民政局\" }\nretention = { photos_days = 5 }\n",
        1,
    );
    assert_ne!(short, beebox::startup::SAMPLE_CATALOG);
    std::fs::write(&file, short).unwrap();
    let env = [("BEEBOX_DATABASE__URL", url.as_str())];
    let output = beebox(
        dir.path(),
        &["catalog", "import", file.to_str().unwrap()],
        &env,
    );
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("matter elderly-preferential-card: retention.photos_days is 5 days"),
        "{err}"
    );
    assert!(err.contains("open life of 6 days"), "{err}");

    // The service's default counts too.
    std::fs::write(&file, beebox::startup::SAMPLE_CATALOG).unwrap();
    let env = [
        ("BEEBOX_DATABASE__URL", url.as_str()),
        ("BEEBOX_RETENTION__PERSONAL_DAYS", "3"),
    ];
    let output = beebox(
        dir.path(),
        &["catalog", "import", file.to_str().unwrap()],
        &env,
    );
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("retention.personal_days (the service's default) is 3 days"),
        "{err}"
    );
}

#[tokio::test]
async fn destruction_while_the_store_is_down_finishes_when_it_returns() {
    let s3 = S3Server::start().await;
    let app = spawn_app_with(|c| {
        periods(c);
        on_s3(&s3)(c);
        c.jobs.backoff_base_ms = 200;
        c.jobs.backoff_max_secs = 1;
    })
    .await;
    let citizen = app.citizen_token("stormy").await;
    let id = submitted_case(&app, &citizen, None, 120).await;
    let keys = object_keys(&app, &id).await;
    app.post_as(
        &citizen,
        &format!("/v1/applications/{id}/cancel"),
        &json!({}),
    )
    .await;
    later(&app, 21).await;

    s3.refuse(true);
    // The rows go in one transaction with the job that deletes the objects.
    let run = apply(&app).await;
    assert_eq!((run.photos, run.objects), (1, keys.len()), "{run:?}");
    assert!(
        beebox::store::pages::of_application(app.state.database().unwrap(), id.parse().unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    // The delete job fails while the store does, and is retried.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        use beebox::store::jobs::job;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let jobs = job::Entity::find()
            .filter(job::Column::Kind.eq("delete_objects"))
            .all(app.state.database().unwrap())
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_ne!(jobs[0].state, "dead", "{jobs:?}");
        if jobs[0].attempts >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no retry: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s3.refuse(false);
    wait_gone(&app, &keys).await;
    assert_eq!(apply(&app).await, Default::default());
}
