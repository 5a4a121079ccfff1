//! Cases put straight into the store in a later state, for tests that start there. Setup only:
//! every road to these states is played over HTTP somewhere (`review.rs`, `two_way_flow.rs`).

use chrono::Utc;
use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;
use serde_json::json;
use uuid::Uuid;

use super::TestApp;
use super::cases::ELDERLY_CARD;

/// An application row for seeding tests straight into the store: `state` since `at`, of the
/// item `version`, for `citizen`. Setup only; the citizen's own path is played over HTTP.
pub fn application_row(
    citizen: uuid::Uuid,
    version: &beebox::store::catalog::MatterVersion,
    state: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> beebox::store::applications::application::ActiveModel {
    let submitted = (state != "draft").then_some(at);
    beebox::store::applications::application::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        citizen_id: Set(citizen),
        matter_id: Set(version.matter.id),
        matter_code: Set(version.matter.code.clone()),
        state: Set(state.into()),
        version: Set(1),
        applicant_name: Set("张三".into()),
        applicant_phone: Set("13800138000".into()),
        applicant_id_number_enc: Set(None),
        applicant_id_number_masked: Set(None),
        return_address: Set(None),
        note: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        submitted_at: Set(submitted),
        first_submitted_at: Set(submitted),
        department_code: Set(version.matter.department_code.clone()),
        claimed_by: Set(None),
        claim_expires_at: Set(None),
        queue_priority: Set(0),
        return_reasons: Set(None),
        prereview_due_at: Set(submitted.map(|s| s + chrono::Duration::hours(24))),
        applicant_email: Set(None),
        overdue_alerted_at: Set(None),
        batch_id: Set(None),
        received_at: Set(None),
        receipt_confirmed_at: Set(None),
        filing_id: Set(None),
        agent_id: Set(None),
        service_point_id: Set(None),
        authorization_method: Set(None),
        held_at: Set(None),
        held_by: Set(None),
        hold_reason: Set(None),
        photos_destroyed_at: Set(None),
        results_destroyed_at: Set(None),
        personal_destroyed_at: Set(None),
    }
}

/// A case of `item` in `state` since now, owned by the dev citizen `name`, its row shaped by
/// `shape` before it is written: the citizen's token and the case's id.
pub async fn seeded_case(
    app: &TestApp,
    name: &str,
    item: &str,
    state: &str,
    shape: impl FnOnce(&mut beebox::store::applications::application::ActiveModel),
) -> (String, Uuid) {
    let token = app.citizen_token(name).await;
    let db = app.state.database().unwrap();
    let citizen = beebox::store::citizens::upsert_by_openid(db, &format!("dev-{name}"), None)
        .await
        .unwrap();
    let version = beebox::store::catalog::find(db, item, None)
        .await
        .unwrap()
        .unwrap();
    let mut row = application_row(citizen.id, &version, state, Utc::now());
    shape(&mut row);
    let row = row.insert(db).await.unwrap();
    (token, row.id)
}

/// A case of `ELDERLY_CARD` that passed pre-review, owned by the dev citizen `name`.
pub async fn passed_case(app: &TestApp, name: &str) -> (String, String) {
    let (token, id) = passed_case_uuid(app, name).await;
    (token, id.to_string())
}

/// As `passed_case`, with the id as the store keeps it.
pub async fn passed_case_uuid(app: &TestApp, name: &str) -> (String, Uuid) {
    seeded_case(app, name, ELDERLY_CARD, "prereview_passed", |_| {}).await
}

/// A case of `item` waiting for its department, owned by the dev citizen `name`, with a
/// return address.
pub async fn waiting_case(app: &TestApp, name: &str, item: &str) -> (String, String) {
    let (token, id) = seeded_case(app, name, item, "at_department", |row| {
        row.return_address = Set(Some(json!({
            "province": "浙江省", "city": "杭州市", "district": "拱墅区",
            "detail": "湖墅南路 88 号 2 单元 601", "contact_name": "李四", "phone": "13900139000"
        })));
    })
    .await;
    (token, id.to_string())
}

/// Seeds `n` submitted cases of `ELDERLY_CARD` by one new citizen, the first submitted longest
/// ago (five hours).
pub async fn seed_submitted(app: &TestApp, n: usize) -> Vec<Uuid> {
    let db = app.state.database().unwrap();
    let citizen =
        beebox::store::citizens::upsert_by_openid(db, &format!("seed-{}", Uuid::new_v4()), None)
            .await
            .unwrap();
    let version = beebox::store::catalog::find(db, ELDERLY_CARD, None)
        .await
        .unwrap()
        .unwrap();
    let start = Utc::now() - chrono::Duration::hours(5);
    let mut ids = Vec::new();
    for i in 0..n {
        let submitted = start + chrono::Duration::seconds(i as i64);
        let model = application_row(citizen.id, &version, "submitted", submitted);
        ids.push(model.insert(db).await.unwrap().id);
    }
    ids
}
