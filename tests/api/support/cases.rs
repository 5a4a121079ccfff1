//! Cases made the citizen's way, over HTTP: a draft, a submitted case, the decisions on it and
//! the state it is in. Cases put straight into a later state are in `seeds.rs`.

use serde_json::{Value, json};

use super::TestApp;
use super::pages::{jpeg, upload};

pub const VALID_ID: &str = "11010519491231002X";
/// Departments of the sample catalogue.
pub const CIVIL: &str = "civil-affairs";
pub const SOCIAL: &str = "human-resources-social-security";
/// The sample catalogue's item that needs the originals and posts a paper result.
pub const ELDERLY_CARD: &str = "elderly-preferential-card";
/// The sample catalogue's item of two ID card pages and an ID photo.
pub const SOCIAL_CARD: &str = "social-security-card-replacement";

pub fn new_application(matter: &str) -> Value {
    json!({
        "matter_code": matter,
        "applicant": {"name": "张三", "phone": "13800138000", "id_number": VALID_ID},
        "return_address": {"province": "浙江省", "city": "杭州市", "district": "西湖区",
                           "detail": "文三路 100 号 3 幢 201 室", "contact_name": "张三",
                           "phone": "13800138000"},
        "note": "上午在家"
    })
}

pub async fn create(app: &TestApp, token: &str, matter: &str) -> Value {
    let response = app
        .post_as(token, "/v1/applications", &new_application(matter))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// A draft of `SOCIAL_CARD` by the dev citizen `name`: their token and its id.
pub async fn draft(app: &TestApp, name: &str) -> (String, String) {
    let token = app.citizen_token(name).await;
    let created = create(app, &token, SOCIAL_CARD).await;
    (token, created["id"].as_str().unwrap().to_string())
}

/// A case of `SOCIAL_CARD` submitted over HTTP (two ID card pages and an ID photo, made from
/// `seed`), with an email address for notifications when one is given.
pub async fn submitted_case(app: &TestApp, token: &str, email: Option<&str>, seed: u8) -> String {
    let mut body = new_application(SOCIAL_CARD);
    if let Some(email) = email {
        body["applicant"]["email"] = json!(email);
    }
    let created = app.post_as(token, "/v1/applications", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    // Distinct bytes per page: the same photo twice in one application is refused.
    for (material, n) in [("id-card", 1u8), ("id-card", 2), ("id-photo", 3)] {
        let bytes = jpeg(seed.wrapping_add(n * 7));
        let response = upload(app, token, &id, material, bytes, "p.jpg").await;
        assert_eq!(response.status(), 201);
    }
    let submitted = app
        .post_as(token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    id
}

/// A case of `ELDERLY_CARD` (paper originals collected by courier, a paper result posted back)
/// submitted over HTTP: every required material photographed, each page's bytes made from
/// `seed`.
pub async fn submitted_elderly_case(app: &TestApp, token: &str, seed: u8) -> String {
    let created = create(app, token, ELDERLY_CARD).await;
    let id = created["id"].as_str().unwrap().to_string();
    let pages = [
        ("id-card", 1u8),
        ("id-card", 2),
        ("household-register", 3),
        ("household-register", 4),
        ("id-photo", 5),
        ("application-form", 6),
    ];
    for (material, n) in pages {
        let bytes = jpeg(seed.wrapping_add(n * 7));
        let response = upload(app, token, &id, material, bytes, "p.jpg").await;
        assert_eq!(response.status(), 201, "{material}");
    }
    let submitted = app
        .post_as(token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    id
}

/// Replaces the first `id-photo` page of a returned case, as the citizen fixing it would:
/// deletes it (204) and uploads new bytes (201).
pub async fn replace_photo(app: &TestApp, token: &str, id: &str, case: &Value, seed: u8) {
    let photo = case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-photo")
        .unwrap()["pages"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = app
        .delete_as(token, &format!("/v1/applications/{id}/pages/{photo}"))
        .await;
    assert_eq!(deleted.status(), 204);
    let replaced = upload(app, token, id, "id-photo", jpeg(seed), "new.jpg").await;
    assert_eq!(replaced.status(), 201);
}

/// The case's state as its owner reads it.
pub async fn state_of(app: &TestApp, token: &str, id: &str) -> String {
    let body: Value = app
        .get_as(token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    body["state"].as_str().unwrap().to_string()
}

/// Waits (up to 30 s) until the case is in `wanted`.
pub async fn wait_state(app: &TestApp, token: &str, id: &str, wanted: &str) {
    let reached = super::wait::poll(
        std::time::Duration::from_secs(30),
        std::time::Duration::from_millis(50),
        || async {
            let state = state_of(app, token, id).await;
            if state == wanted { Ok(()) } else { Err(state) }
        },
    )
    .await;
    if let Err(state) = reached {
        panic!("still {state}, never {wanted}");
    }
}

/// Claims the oldest case of the reviewer's queue: its id, or `None` on 204.
pub async fn claim_next(app: &TestApp, token: &str) -> Option<String> {
    let response = app
        .post_as(token, "/v1/review/claim-next", &json!({}))
        .await;
    match response.status().as_u16() {
        204 => None,
        200 => {
            let row: Value = response.json().await.unwrap();
            assert_eq!(row["claimed_by_me"], true);
            Some(row["id"].as_str().unwrap().to_string())
        }
        other => panic!(
            "claim-next answered {other}: {}",
            response.text().await.unwrap()
        ),
    }
}

/// The two desks that decide on a case.
#[derive(Clone, Copy)]
pub enum Desk {
    /// Pre-review: approve, return or reject.
    Review,
    /// The department: approved or refused.
    Department,
}

pub async fn decide(
    app: &TestApp,
    token: &str,
    desk: Desk,
    id: &str,
    body: Value,
) -> reqwest::Response {
    let desk = match desk {
        Desk::Review => "review",
        Desk::Department => "department",
    };
    app.post_as(
        token,
        &format!("/v1/{desk}/applications/{id}/decision"),
        &body,
    )
    .await
}

/// Posts a result file of a case at the department's desk.
pub async fn upload_result(
    app: &TestApp,
    token: &str,
    id: &str,
    bytes: Vec<u8>,
    name: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    app.client
        .post(app.url(&format!("/v1/department/applications/{id}/results")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}
