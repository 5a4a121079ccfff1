//! The citizen's wallet and bundles the citizen's way, over HTTP: a case approved into the
//! wallet, a document attached to another case, a case of another department submitted with a
//! reused ID card, and a bundle filed with its shared materials uploaded once.

use serde_json::{Value, json};

use super::TestApp;
use super::answers::json_of;
use super::cases::{
    Desk, ELDERLY_CARD, SOCIAL, claim_next, create, decide, new_application, submitted_case,
};
use super::pages::{jpeg, upload};
use super::staff::staff_token;

/// A `SOCIAL_CARD` case of the citizen, submitted and approved by an HR reviewer (with `body`
/// as the decision): its id. Its ID card and ID photo are then documents of the wallet.
pub async fn approved_case(app: &TestApp, citizen: &str, seed: u8, body: Value) -> String {
    let reviewer = staff_token(app, &format!("hr.reviewer{seed}"), "reviewer", SOCIAL).await;
    let id = submitted_case(app, citizen, None, seed).await;
    assert_eq!(
        claim_next(app, &reviewer).await.as_deref(),
        Some(id.as_str())
    );
    json_of(decide(app, &reviewer, Desk::Review, &id, body).await, 200).await;
    id
}

/// The citizen's wallet: `query` is `""` or `"?ended=true"`.
pub async fn wallet(app: &TestApp, citizen: &str, query: &str) -> Vec<Value> {
    let listed = json_of(
        app.get_as(citizen, &format!("/v1/documents{query}")).await,
        200,
    )
    .await;
    listed["items"].as_array().unwrap().clone()
}

/// The document of `document_type` among `docs`.
pub fn of_type<'a>(docs: &'a [Value], document_type: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["document_type"] == document_type)
        .unwrap_or_else(|| panic!("no {document_type} in {docs:?}"))
}

/// The material `code` of a case as the API shows it.
pub fn material<'a>(case: &'a Value, code: &str) -> &'a Value {
    case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code)
        .unwrap()
}

pub async fn attach(
    app: &TestApp,
    citizen: &str,
    id: &str,
    material: &str,
    document: &str,
) -> reqwest::Response {
    app.post_as(
        citizen,
        &format!("/v1/applications/{id}/materials/{material}/documents"),
        &json!({"document_id": document}),
    )
    .await
}

/// A submitted `ELDERLY_CARD` case whose ID card came from the wallet (verified in an approved
/// `SOCIAL_CARD` case) and whose other materials were uploaded: the citizen's token, the case's
/// id and the reused document's id.
pub async fn reused_case(app: &TestApp, name: &str, seed: u8) -> (String, String, String) {
    let citizen = app.citizen_token(name).await;
    approved_case(app, &citizen, seed, json!({"outcome": "approve"})).await;
    let card = card_of(app, &citizen).await;
    let draft = create(app, &citizen, ELDERLY_CARD).await;
    let id = draft["id"].as_str().unwrap().to_string();
    json_of(attach(app, &citizen, &id, "id-card", &card).await, 201).await;
    let rest = [
        ("household-register", 1u8),
        ("household-register", 2),
        ("id-photo", 3),
        ("application-form", 4),
    ];
    for (code, n) in rest {
        let response = upload(
            app,
            &citizen,
            &id,
            code,
            jpeg(seed.wrapping_add(100 + n)),
            "p.jpg",
        )
        .await;
        assert_eq!(response.status(), 201, "{code}");
    }
    let path = format!("/v1/applications/{id}/submit");
    json_of(app.post_as(&citizen, &path, &json!({})).await, 200).await;
    (citizen, id, card)
}

/// The sample catalogue's bundle of electricity, water and gas account transfers.
pub const UTILITIES: &str = "home-resale-utilities";

/// A new filing's body for `bundle`, with the same applicant as `new_application`.
pub fn new_filing(bundle: &str) -> Value {
    let mut body = new_application("");
    body.as_object_mut().unwrap().remove("matter_code");
    body["bundle_code"] = json!(bundle);
    body
}

/// Files `bundle` (201): the filing as answered.
pub async fn file(app: &TestApp, citizen: &str, bundle: &str) -> Value {
    json_of(
        app.post_as(citizen, "/v1/filings", &new_filing(bundle))
            .await,
        201,
    )
    .await
}

/// A filing of the utilities bundle with its shared materials (ID card, property certificate,
/// sale contract) uploaded once, to its first item: the filing as answered.
pub async fn ready_filing(app: &TestApp, citizen: &str, seed: u8) -> Value {
    let filing = file(app, citizen, UTILITIES).await;
    let holder = filing["items"][0]["application_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shared = [
        ("id-card", 1u8),
        ("id-card", 2),
        ("property-certificate", 3),
        ("sale-contract", 4),
    ];
    for (code, n) in shared {
        let bytes = jpeg(seed.wrapping_add(n));
        let response = upload(app, citizen, &holder, code, bytes, "p.jpg").await;
        assert_eq!(response.status(), 201, "{code}");
    }
    filing
}

/// The id of the citizen's valid ID card document (the wallet must hold one).
pub async fn card_of(app: &TestApp, citizen: &str) -> String {
    let docs = wallet(app, citizen, "").await;
    of_type(&docs, "resident_id_card")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Uploads one page per `(material, seed)` to the case, each answered 201.
pub async fn upload_all(app: &TestApp, citizen: &str, id: &str, pages: &[(&str, u8)]) {
    for (code, seed) in pages {
        let response = upload(app, citizen, id, code, jpeg(*seed), "p.jpg").await;
        assert_eq!(response.status(), 201, "{code}");
    }
}

/// Submits (or resubmits) the citizen's case on its own: the case as answered (200).
pub async fn submit_case(app: &TestApp, citizen: &str, id: &str) -> Value {
    let path = format!("/v1/applications/{id}/submit");
    json_of(app.post_as(citizen, &path, &json!({})).await, 200).await
}
