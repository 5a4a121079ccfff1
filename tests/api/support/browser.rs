//! Browser tests: runs a Playwright script of `tests/console/` (Node, driving Debian's chromium)
//! against a running app, and answers its `control()` requests for what happens outside the
//! console: a citizen filing and fixing a case through the API, the simulated courier
//! delivering originals, the clock. The script's exit status is the test's outcome.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use beebox::store::jobs::{self, JobStatus, NewJob};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::TestApp;
use super::agents::submitted_agent_case;
use super::cases::{replace_photo, submitted_case, submitted_elderly_case};
use super::courier::{arrived_case, booking, deliver_originals};
use super::pages::jpeg;
use super::seeds::passed_case;
use super::staff::{PASSWORD, seed_staff};
use super::wait::poll;
use super::wallet::{ready_filing, reused_case};

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/console")
}

/// Runs `tests/console/<script>` against `app`; panics with its output when it fails.
pub async fn run_browser(app: &TestApp, script: &str) {
    let dir = console_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser tests need their packages: npm ci --prefix tests/console (scripts/test.sh runs it)"
    );
    let mut command = Command::new("node");
    command
        .arg(script)
        .current_dir(&dir)
        .env("BEEBOX_URL", &app.address)
        .env("BEEBOX_STAFF_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("node runs (is Node.js installed?)");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let talk = async {
        while let Some(line) = lines.next_line().await.expect("script output") {
            let Some(request) = line.strip_prefix("@@") else {
                println!("{line}");
                continue;
            };
            let request: Value = serde_json::from_str(request).expect("a control request is JSON");
            let reply = match handle(app, &request).await {
                Ok(result) => json!({ "ok": true, "result": result }),
                Err(error) => json!({ "ok": false, "error": error }),
            };
            stdin
                .write_all(format!("{reply}\n").as_bytes())
                .await
                .expect("reply sent");
        }
        child.wait().await.expect("script ends")
    };
    let status = tokio::time::timeout(Duration::from_secs(240), talk)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 240 s"));
    assert!(status.success(), "{script} failed: {status}");
}

/// One control request from a script.
async fn handle(app: &TestApp, request: &Value) -> Result<Value, String> {
    let text = |key: &str| {
        request[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("`{key}` missing"))
    };
    match request["cmd"].as_str().unwrap_or_default() {
        // A staff member seeded straight into the store, as `beebox staff create-admin` does.
        "seed_staff" => {
            let id = seed_staff(
                app,
                &text("username")?,
                &text("roles")?,
                &text("departments")?,
            )
            .await;
            Ok(json!({ "id": id }))
        }
        // A citizen files and submits a case (photos made from `seed`).
        "submitted_case" => {
            let token = app.citizen_token(&text("name")?).await;
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            let id = submitted_case(app, &token, None, seed).await;
            Ok(json!({ "token": token, "id": id }))
        }
        // As `submitted_case`, of an item whose paper originals the courier collects (the
        // elderly card): past pre-review it goes through pickup and reception.
        "submitted_originals_case" => {
            let token = app.citizen_token(&text("name")?).await;
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            let id = submitted_elderly_case(app, &token, seed).await;
            Ok(json!({ "token": token, "id": id }))
        }
        // A case of the civil affairs bureau whose ID card came from the citizen's wallet.
        "reused_case" => {
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            let (token, id, document_id) = reused_case(app, &text("name")?, seed).await;
            Ok(json!({ "token": token, "id": id, "document_id": document_id }))
        }
        // An agent at the village service point `longwangba` files an elderly card for a
        // resident on a signed form and submits it.
        "agent_case" => {
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            Ok(json!({ "id": submitted_agent_case(app, seed).await }))
        }
        // A citizen files the utilities bundle and submits it: the filing and its items' ids.
        "submitted_filing" => {
            let token = app.citizen_token(&text("name")?).await;
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            let filing = ready_filing(app, &token, seed).await;
            let id = filing["id"].as_str().ok_or("no filing id")?;
            let submitted = app
                .post_as(&token, &format!("/v1/filings/{id}/submit"), &json!({}))
                .await;
            match submitted.status().as_u16() {
                200 => Ok(submitted.json().await.map_err(|e| e.to_string())?),
                status => Err(format!("the filing's submit answered {status}")),
            }
        }
        // A small real JPEG (base64), for a script to hand to a file input.
        "jpeg" => {
            let seed = request["seed"].as_u64().unwrap_or(1) as u8;
            Ok(json!({ "base64": BASE64.encode(jpeg(seed)) }))
        }
        // The citizen replaces the returned ID photo and submits again.
        "fix_and_resubmit" => {
            let (token, id) = (text("token")?, text("id")?);
            let case: Value = app
                .get_as(&token, &format!("/v1/applications/{id}"))
                .await
                .json()
                .await
                .map_err(|e| e.to_string())?;
            replace_photo(app, &token, &id, &case, 200).await;
            let submitted = app
                .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
                .await;
            match submitted.status().as_u16() {
                200 => Ok(submitted.json().await.map_err(|e| e.to_string())?),
                status => Err(format!("resubmit answered {status}")),
            }
        }
        // The citizen's own view of the case.
        "citizen_case" => {
            let (token, id) = (text("token")?, text("id")?);
            app.get_as(&token, &format!("/v1/applications/{id}"))
                .await
                .json()
                .await
                .map_err(|e| e.to_string())
        }
        // The citizen books a pickup and the simulated courier delivers the originals.
        "deliver_originals" => {
            let (token, id) = (text("token")?, text("id")?);
            deliver_originals(app, &token, &id).await;
            let shipments: Value = app
                .get_as(&token, &format!("/v1/applications/{id}/shipments"))
                .await
                .json()
                .await
                .map_err(|e| e.to_string())?;
            Ok(shipments)
        }
        // A passed case whose originals the simulated courier delivered, and their waybill.
        "arrived_case" => {
            let (token, id) = arrived_case(app, &text("name")?).await;
            let shipments: Value = app
                .get_as(&token, &format!("/v1/applications/{id}/shipments"))
                .await
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let waybill = shipments["items"][0]["waybill_no"].clone();
            Ok(json!({ "token": token, "id": id, "waybill_no": waybill }))
        }
        // A passed case of the elderly card whose citizen chose the 24-hour box: its code.
        "dropped_case" => {
            let (token, id) = passed_case(app, &text("name")?).await;
            let address = booking("2026-01-01", "09:00-12:00")["address"].clone();
            let chosen = app
                .post_as(
                    &token,
                    &format!("/v1/applications/{id}/drop-off"),
                    &json!({ "address": address }),
                )
                .await;
            match chosen.status().as_u16() {
                201 => {
                    let body: Value = chosen.json().await.map_err(|e| e.to_string())?;
                    Ok(json!({ "token": token, "id": id, "code": body["code"] }))
                }
                status => Err(format!("choosing the box answered {status}")),
            }
        }
        // The scheduled reminder of drops not found in the box, run now.
        "remind_late_drops" => {
            let db = app.state.database().unwrap();
            let reminded = app.state.cases.remind_late_drops(db).await;
            Ok(json!({ "reminded": reminded.map_err(|e| e.to_string())? }))
        }
        // A job that gives up at once (its notification does not exist), for the admin's list
        // of dead jobs.
        "dead_job" => {
            let db = app.state.database().unwrap();
            let job = NewJob {
                kind: "notify_wechat",
                payload: json!({ "notification_id": uuid::Uuid::now_v7() }),
                dedupe_key: None,
                run_at: chrono::Utc::now(),
                max_attempts: 1,
            };
            jobs::enqueue(db, job).await.map_err(|e| e.to_string())?;
            poll(
                Duration::from_secs(20),
                Duration::from_millis(50),
                || async {
                    let dead = jobs::list(db, Some(JobStatus::Dead), None, None, 10).await;
                    match dead {
                        Ok(rows) if !rows.is_empty() => Ok(json!({ "id": rows[0].id })),
                        _ => Err(()),
                    }
                },
            )
            .await
            .map_err(|()| "the job never went dead".to_string())
        }
        "advance_clock" => {
            let secs = request["secs"].as_u64().ok_or("`secs` missing")?;
            app.state.clock.advance(Duration::from_secs(secs));
            Ok(Value::Null)
        }
        other => Err(format!("unknown control request `{other}`")),
    }
}
