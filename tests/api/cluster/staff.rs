//! The staff of the cluster run, through the load balancer: reviewers claim and decide,
//! reception receives the originals and closes the batch, the department posts a result and
//! approves. Every call goes through the retrying `Client` and accepts, after a retry, only the
//! refusal that means "the first send did it".

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use super::client::{Answer, Client};
use super::run::{Plan, Run};
use crate::support::cases::ELDERLY_CARD;
use crate::support::pages::jpeg;

pub async fn staff_login(client: &Client, username: &str, password: &str) -> String {
    let body = json!({"username": username, "password": password});
    let answer = client.post("", "/v1/staff/login", &body).await;
    answer.expect("staff login", 200, &[]);
    answer.body["access_token"].as_str().unwrap().to_string()
}

/// Reviewer `r`: claims the next case and decides it as planned, until every case is decided.
pub async fn reviewer(run: &Run, r: usize, token: String) {
    let client = &run.client;
    let mut mine: Vec<String> = Vec::new();
    loop {
        if let Some(id) = mine.pop() {
            decide(run, &token, &id).await;
            continue;
        }
        let answer = client
            .post(&token, "/v1/review/claim-next", &json!({}))
            .await;
        if answer.retried {
            // A claim whose answer was lost is still this reviewer's: find it in the queue.
            mine.extend(claimed_by_me(client, &token).await);
        }
        match answer.status {
            200 => mine.push(answer.id()),
            204 => {
                let done = run.submitted.load(Ordering::SeqCst) == run.citizens
                    && run.decided.lock().unwrap().len() == run.citizens;
                if done {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            _ => panic!("claim-next: {answer:?}"),
        }
        mine.sort();
        mine.dedup();
        let mut claims = run.claims.lock().unwrap();
        for id in &mine {
            if !claims.iter().any(|(who, c)| *who == r && c == id) {
                claims.push((r, id.clone()));
            }
        }
    }
}

/// The cases of the queue this reviewer holds a claim on.
async fn claimed_by_me(client: &Client, token: &str) -> Vec<String> {
    let mut mine = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/review/queue?limit=100&cursor={c}"),
            None => "/v1/review/queue?limit=100".to_string(),
        };
        let page = client.get(token, &path).await;
        page.expect("review queue", 200, &[]);
        for row in page.body["items"].as_array().unwrap() {
            if row["claimed_by_me"] == true {
                mine.push(row["id"].as_str().unwrap().to_string());
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return mine,
        }
    }
}

async fn decide(run: &Run, token: &str, id: &str) {
    let case = run.case(id);
    let body = match case.plan {
        Plan::Approve => json!({"outcome": "approve"}),
        Plan::Return => json!({"outcome": "return",
            "reasons": [{"material_code": "id-photo", "reason": "照片模糊，请重新拍摄"}]}),
        Plan::Reject => json!({"outcome": "reject", "note": "不符合申领条件"}),
    };
    let path = format!("/v1/review/applications/{id}/decision");
    let answer = run.client.post(token, &path, &body).await;
    // The decision ended the claim and moved the case: what its retry meets.
    answer.expect(
        "review decision",
        200,
        &["invalid_state", "not_claim_holder", "claim_required"],
    );
    run.decided
        .lock()
        .unwrap()
        .insert(id.to_string(), case.plan);
    if case.plan == Plan::Approve && case.item == ELDERLY_CARD {
        run.pickups.send(id.to_string()).unwrap();
    }
}

/// Reception: receives every case whose originals arrived, closing the batch after each round,
/// until every approved case with originals is received.
pub async fn reception(run: &Run, token: String) {
    let client = &run.client;
    let expected = run.count(Some(Plan::Approve), Some(ELDERLY_CARD));
    while run.received.lock().unwrap().len() < expected {
        let queue = client.get(&token, "/v1/reception/queue").await;
        queue.expect("reception queue", 200, &[]);
        let arrived: Vec<String> = queue.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        for id in &arrived {
            let path = format!("/v1/reception/applications/{id}/receive");
            let body = json!({"matches": true, "note": "原件齐全"});
            let answer = client.post(&token, &path, &body).await;
            answer.expect("receive", 200, &["invalid_state"]);
            run.received.lock().unwrap().insert(id.clone());
        }
        if !arrived.is_empty() {
            let close = client
                .post(&token, "/v1/reception/batches/close", &json!({}))
                .await;
            close.expect("close the batch", 200, &[]);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The department: a result file and the approval for every case that reaches it, until every
/// approved case is decided.
pub async fn department(run: &Run, token: String) {
    let client = &run.client;
    let expected = run.count(Some(Plan::Approve), None);
    while run.approved.lock().unwrap().len() < expected {
        let queue = client.get(&token, "/v1/department/queue?limit=100").await;
        queue.expect("department queue", 200, &[]);
        let waiting: Vec<String> = queue.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        for id in &waiting {
            let seed = run.case(id).citizen as u8;
            result_file(
                client,
                &token,
                id,
                jpeg(seed.wrapping_mul(3).wrapping_add(1)),
            )
            .await;
            let path = format!("/v1/department/applications/{id}/decision");
            let body = json!({"outcome": "approved", "note": "准予办理"});
            // A retried decision answers as the first did.
            let answer = client.post(&token, &path, &body).await;
            answer.expect("department decision", 200, &[]);
            run.approved.lock().unwrap().insert(id.clone());
        }
        if waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn result_file(client: &Client, token: &str, id: &str, bytes: Vec<u8>) -> Answer {
    let url = client.url(&format!("/v1/department/applications/{id}/results"));
    let answer = client
        .send(|http| {
            let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name("card.jpg");
            let form = reqwest::multipart::Form::new().part("file", part);
            http.post(&url).bearer_auth(token).multipart(form)
        })
        .await;
    answer.expect("result file", 201, &["duplicate_result_file"]);
    answer
}
