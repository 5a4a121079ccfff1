//! Dispatch batches closed early by reception, and the manifest CSV with what applicants typed
//! in it: a name that a spreadsheet would run as a formula is written as text.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::cases::{CIVIL, state_of};
use crate::support::courier::{arrived_case, deliver_originals};
use crate::support::seeds::passed_case;
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, quick_app};

/// Confirms the originals of an arrived case at the desk.
async fn receive(app: &TestApp, desk: &str, id: &str) {
    let received = app
        .post_as(
            desk,
            &format!("/v1/reception/applications/{id}/receive"),
            &json!({"matches": true}),
        )
        .await;
    assert_eq!(received.status(), 200);
}

async fn close(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_as(token, "/v1/reception/batches/close", &body)
        .await
}

#[tokio::test]
async fn reception_closes_the_current_batch_now_and_a_retry_closes_nothing_more() {
    let app = quick_app().await;
    let desk = staff_token(&app, "early.desk", "reception", CIVIL).await;
    let (citizen, id) = arrived_case(&app, "handed-early").await;
    receive(&app, &desk, &id).await;

    let closed = close(&app, &desk, json!({})).await;
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    let items = closed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{closed}");
    assert_eq!(items[0]["department_code"], CIVIL);
    assert_eq!(items[0]["case_count"], 1);
    let batch = items[0]["id"].as_str().unwrap().to_string();
    assert_eq!(state_of(&app, &citizen, &id).await, "at_department");
    assert_eq!(
        app.timeline_actions(&citizen, &id).await.last().unwrap(),
        "dispatch"
    );

    // The batch is listed like a clock-closed one, with its manifest.
    let listed: Value = app
        .get_as(&desk, "/v1/reception/batches")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], batch.as_str());
    let manifest = app
        .get_as(&desk, &format!("/v1/reception/batches/{batch}/manifest"))
        .await;
    assert_eq!(manifest.status(), 200);
    assert!(
        manifest
            .text()
            .await
            .unwrap()
            .contains(&id.replace('-', ""))
    );

    // A retry (or a second clerk) finds nothing left to close.
    let again: Value = close(&app, &desk, json!({})).await.json().await.unwrap();
    assert_eq!(again["items"], json!([]));
    let listed: Value = app
        .get_as(&desk, "/v1/reception/batches")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn closing_a_batch_is_for_reception_of_the_department_or_an_admin_and_is_audited() {
    let app = quick_app().await;
    let desk = staff_token(&app, "scoped.desk", "reception", CIVIL).await;
    let reviewer = staff_token(&app, "not.desk", "reviewer", CIVIL).await;
    assert_problem(
        close(&app, &reviewer, json!({})).await,
        403,
        "role_required",
    )
    .await;
    let other = assert_problem(
        close(&app, &desk, json!({"department_code": "public-security"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(other["errors"][0]["field"], "department_code");

    // Another department's desk closes nothing of civil affairs.
    let (_, id) = arrived_case(&app, "kept-back").await;
    receive(&app, &desk, &id).await;
    let elsewhere = staff_token(&app, "other.desk", "reception", "public-security").await;
    let none: Value = close(&app, &elsewhere, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));

    // An admin without departments closes any department's batch.
    let admin = staff_token(&app, "batch.admin", "admin", "").await;
    let closed: Value = close(&app, &admin, json!({"department_code": CIVIL}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["items"][0]["case_count"], 1, "{closed}");
    let audit: Value = app
        .get_as(&admin, "/v1/admin/audit?action=reception.close_batches")
        .await
        .json()
        .await
        .unwrap();
    let rows: Vec<(&str, &str, &str)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor_name"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["detail"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // Newest first; the refusals too, with the code the client saw.
    assert_eq!(
        rows,
        [
            ("batch.admin", "success", "1 batch(es), 1 case(s)"),
            ("other.desk", "success", "0 batch(es), 0 case(s)"),
            ("scoped.desk", "failure", "validation_failed"),
            ("not.desk", "denied", "role_required"),
        ],
        "{audit:#}"
    );
}

#[tokio::test]
async fn an_applicant_name_written_as_a_formula_reaches_the_manifest_csv_as_text() {
    use beebox::store::applications::application;

    let app = quick_app().await;
    let desk = staff_token(&app, "csv.desk", "reception", CIVIL).await;
    let formula = "=HYPERLINK(\"http://attacker.example/\",\"点此核验\")";
    let (token, id) = passed_case(&app, "formula").await;
    // Names are stored as sent; this one is what an attacker types in the mini-program.
    application::Entity::update_many()
        .col_expr(application::Column::ApplicantName, Expr::value(formula))
        .filter(application::Column::Id.eq(uuid::Uuid::parse_str(&id).unwrap()))
        .exec(app.state.database().unwrap())
        .await
        .unwrap();
    deliver_originals(&app, &token, &id).await;
    receive(&app, &desk, &id).await;
    let closed: Value = close(&app, &desk, json!({})).await.json().await.unwrap();
    let batch = closed["items"][0]["id"].as_str().unwrap();

    let csv = app
        .get_as(
            &desk,
            &format!("/v1/reception/batches/{batch}/manifest?format=csv"),
        )
        .await
        .text()
        .await
        .unwrap();
    let row = csv
        .lines()
        .find(|l| l.contains(&id.replace('-', "")))
        .expect("the case's row");
    assert!(
        row.contains(",\"'=HYPERLINK(\"\"http://attacker.example/\"\",\"\"点此核验\"\")\","),
        "{row}"
    );
    // No cell of the file starts a formula.
    for line in csv.lines() {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{line}");
        }
    }
}
