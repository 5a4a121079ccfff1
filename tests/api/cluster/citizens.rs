//! The citizens of the cluster run, through the load balancer: log in, file, upload every page
//! (path A through the service, path B straight to the store), submit, and book the pickup once
//! approved. Every call goes through the retrying `Client` and accepts, after a retry, only the
//! refusal that means "the first send did it".

use std::sync::atomic::Ordering;

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::client::Client;
use super::run::{Case, Plan, Run, pages_of, plan};
use crate::support::cases::{ELDERLY_CARD, new_application};
use crate::support::courier::booking;
use crate::support::pages::jpeg;

/// A dev citizen's access token (the dev profile's simulated WeChat login).
pub async fn citizen_login(client: &Client, name: &str) -> String {
    let answer = client
        .post(
            "",
            "/v1/auth/wechat",
            &json!({"code": format!("dev:{name}")}),
        )
        .await;
    answer.expect("citizen login", 200, &[]);
    answer.body["access_token"].as_str().unwrap().to_string()
}

/// A draft of `item` by the citizen `token`, created with an `Idempotency-Key`: retried with
/// the same key, it is one application.
pub async fn create(client: &Client, token: &str, item: &str, email: &str) -> String {
    let mut body = new_application(item);
    body["applicant"]["email"] = json!(email);
    let key = uuid::Uuid::new_v4().to_string();
    let url = client.url("/v1/applications");
    let answer = client
        .send(|http| {
            http.post(&url)
                .bearer_auth(token)
                .header("Idempotency-Key", &key)
                .json(&body)
        })
        .await;
    answer.expect("create", 201, &[]);
    answer.id()
}

/// Citizen `i` files their case and submits it.
pub async fn citizen(run: &Run, i: usize) {
    let client = &run.client;
    let token = citizen_login(client, &format!("cluster-{i}")).await;
    let (item, plan) = plan(i);
    let id = create(client, &token, item, &format!("cluster-{i}@example.test")).await;
    run.cases.lock().unwrap().insert(
        id.clone(),
        Case {
            citizen: i,
            token: token.clone(),
            item,
            plan,
        },
    );
    // Path A and path B in turn, page by page and citizen by citizen.
    for (j, material) in pages_of(item).iter().enumerate() {
        // Distinct bytes per page of a case: the same photo twice is refused.
        let bytes = jpeg((i * 7 + j * 31) as u8);
        if (i + j).is_multiple_of(2) {
            path_a(client, &token, &id, material, bytes).await;
            run.path_a.fetch_add(1, Ordering::Relaxed);
        } else {
            path_b(client, &token, &id, material, bytes).await;
            run.path_b.fetch_add(1, Ordering::Relaxed);
        }
    }
    let submit = format!("/v1/applications/{id}/submit");
    let answer = client.post(&token, &submit, &json!({})).await;
    // A retry that meets its own submission finds the case submitted already.
    answer.expect("submit", 200, &["invalid_state"]);
    if answer.status != 200 {
        let case = client.get(&token, &format!("/v1/applications/{id}")).await;
        assert_eq!(
            case.body["state"], "submitted",
            "{id} after a retried submit"
        );
    }
    run.submitted.fetch_add(1, Ordering::SeqCst);
}

/// What a retried page upload meets when its first send stored the page: the same bytes
/// (`duplicate_page`), or a material that takes one page full (`too_many_pages`). The final
/// checks count every material's pages, so a page stored twice or lost cannot pass.
const STORED_ALREADY: &[&str] = &["duplicate_page", "too_many_pages"];

/// Path A: the page through the service, multipart.
pub async fn path_a(client: &Client, token: &str, id: &str, material: &str, bytes: Vec<u8>) {
    let url = client.url(&format!("/v1/applications/{id}/materials/{material}/pages"));
    let answer = client
        .send(|http| {
            let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name("page.jpg");
            let form = reqwest::multipart::Form::new().part("file", part);
            http.post(&url).bearer_auth(token).multipart(form)
        })
        .await;
    answer.expect("path A page", 201, STORED_ALREADY);
}

/// Path B: a ticket, the PUT straight to the store, then `complete`. A retried ticket leaves an
/// unused one behind (swept when it expires); a retried `complete` answers the page again, also
/// when the first was cut off by a killed instance (the page and the upload's completion are
/// one commit), so no refusal is accepted there.
pub async fn path_b(client: &Client, token: &str, id: &str, material: &str, bytes: Vec<u8>) {
    let ticket = client
        .post(
            token,
            &format!("/v1/applications/{id}/materials/{material}/uploads"),
            &json!({"content_type": "image/jpeg", "size": bytes.len(),
                    "sha256": hex::encode(Sha256::digest(&bytes))}),
        )
        .await;
    ticket.expect("path B ticket", 201, &[]);
    let put = client
        .send(|http| {
            let mut request = http
                .put(ticket.body["url"].as_str().unwrap())
                .body(bytes.clone());
            for (name, value) in ticket.body["headers"].as_object().unwrap() {
                request = request.header(name, value.as_str().unwrap());
            }
            request
        })
        .await;
    assert!(
        (200..300).contains(&put.status),
        "PUT to the store: {put:?}"
    );
    let upload = ticket.body["upload_id"].as_str().unwrap();
    let complete = format!("/v1/uploads/{upload}/complete");
    let answer = client.post(token, &complete, &json!({})).await;
    answer.expect("path B complete", 201, &[]);
}

/// The citizens of approved cases whose originals are posted book the pickup (as the message of
/// the approval asks them to). `approvals` carries the case ids.
pub async fn book_pickups(run: &Run, mut approvals: mpsc::UnboundedReceiver<String>) {
    for _ in 0..run.count(Some(Plan::Approve), Some(ELDERLY_CARD)) {
        let id = approvals.recv().await.expect("an approval");
        let token = run.case(&id).token;
        let slots = run.client.get(&token, "/v1/pickup-slots?city=杭州市").await;
        slots.expect("pickup slots", 200, &[]);
        let first = &slots.body["items"][0];
        let body = booking(
            first["date"].as_str().unwrap(),
            first["slot"].as_str().unwrap(),
        );
        let path = format!("/v1/applications/{id}/pickup");
        // A retried booking answers as the first did.
        run.client
            .post(&token, &path, &body)
            .await
            .expect("pickup", 201, &[]);
    }
}
