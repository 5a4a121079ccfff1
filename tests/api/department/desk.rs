//! The department's desk: result files cleaned, kept until the decision and shown to the citizen
//! after, large result files, and the desk kept to approvers of the case's department.

use serde_json::json;

use crate::support::answers::json_of;
use crate::support::cases::{CIVIL, Desk, decide, upload_result};
use crate::support::pages::{GPS_PHOTO, app1_segments, fetch, has_gps_ifd, jpeg};
use crate::support::seeds::{passed_case, waiting_case};
use crate::support::staff::staff_token;
use crate::support::{assert_problem, quick_app};

const POSTED_ITEM: &str = "elderly-preferential-card";

#[tokio::test]
async fn result_files_are_cleaned_kept_until_the_decision_and_shown_to_the_citizen_after() {
    let app = quick_app().await;
    let approver = staff_token(&app, "scan.approver", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "scanned", POSTED_ITEM).await;

    let created = json_of(
        upload_result(&app, &approver, &id, GPS_PHOTO.to_vec(), "licence.jpg").await,
        201,
    )
    .await;
    assert_eq!(created["content_type"], "image/jpeg");
    assert_eq!(created["original_name"], "licence.jpg");
    let stored = fetch(&app, created["url"].as_str().unwrap()).await;
    assert!(
        app1_segments(GPS_PHOTO).iter().any(|s| has_gps_ifd(s)),
        "the fixture has GPS"
    );
    assert!(!app1_segments(&stored).iter().any(|s| has_gps_ifd(s)));
    assert_eq!(created["size"], stored.len());

    assert_problem(
        upload_result(&app, &approver, &id, GPS_PHOTO.to_vec(), "again.jpg").await,
        409,
        "duplicate_result_file",
    )
    .await;
    assert_problem(
        upload_result(&app, &approver, &id, b"not a picture".to_vec(), "x.txt").await,
        422,
        "unsupported_file_type",
    )
    .await;
    let spare = json_of(
        upload_result(&app, &approver, &id, jpeg(77), "spare.jpg").await,
        201,
    )
    .await;
    let delete = app
        .client
        .delete(app.url(&format!(
            "/v1/department/applications/{id}/results/{}",
            spare["id"].as_str().unwrap()
        )))
        .bearer_auth(&approver)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);

    // Before the decision the citizen sees no files.
    let result_path = format!("/v1/applications/{id}/result");
    let before = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    assert!(before.get("decision").is_none());
    assert!(before["files"].as_array().unwrap().is_empty());

    let case = json_of(
        app.get_as(&approver, &format!("/v1/department/applications/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(case["result_files"].as_array().unwrap().len(), 1);
    assert_eq!(case["application"]["state"], "at_department");

    json_of(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
        200,
    )
    .await;
    assert_problem(
        upload_result(&app, &approver, &id, jpeg(78), "late.jpg").await,
        409,
        "invalid_state",
    )
    .await;
    let after = json_of(app.get_as(&citizen, &result_path).await, 200).await;
    let files = after["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["id"], created["id"]);
    assert_eq!(fetch(&app, files[0]["url"].as_str().unwrap()).await, stored);

    // The audit log has the upload, the deletion and the decision, and the refused uploads
    // with their problem codes.
    let admin = staff_token(&app, "audit.admin", "admin", CIVIL).await;
    let audit = json_of(
        app.get_as(&admin, &format!("/v1/admin/audit?application={id}"))
            .await,
        200,
    )
    .await;
    let mut actions: Vec<String> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let action = e["action"].as_str().unwrap();
            match e["outcome"].as_str().unwrap() {
                "success" => action.to_string(),
                outcome => format!("{action} {outcome} {}", e["detail"].as_str().unwrap()),
            }
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "department.decide",
            "department.result_delete",
            "department.result_upload",
            "department.result_upload",
            "department.result_upload failure duplicate_result_file",
            "department.result_upload failure invalid_state",
            "department.result_upload failure unsupported_file_type",
            "department.view"
        ]
    );
}

#[tokio::test]
async fn the_department_desk_is_for_approvers_of_the_cases_department() {
    let app = quick_app().await;
    let (_, id) = waiting_case(&app, "scoped", POSTED_ITEM).await;
    let reviewer = staff_token(&app, "civil.reviewer", "reviewer", CIVIL).await;
    let elsewhere = staff_token(&app, "other.approver", "approver", "public-security").await;
    assert_problem(
        app.get_as(&reviewer, "/v1/department/queue").await,
        403,
        "role_required",
    )
    .await;
    assert_problem(
        decide(
            &app,
            &reviewer,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
        403,
        "role_required",
    )
    .await;
    let queue = json_of(app.get_as(&elsewhere, "/v1/department/queue").await, 200).await;
    assert!(queue["items"].as_array().unwrap().is_empty());
    assert_problem(
        app.get_as(&elsewhere, &format!("/v1/department/applications/{id}"))
            .await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        decide(
            &app,
            &elsewhere,
            Desk::Department,
            &id,
            json!({"outcome": "approved"}),
        )
        .await,
        404,
        "application_not_found",
    )
    .await;
    assert_problem(
        upload_result(&app, &elsewhere, &id, jpeg(5), "x.jpg").await,
        404,
        "application_not_found",
    )
    .await;
    // Unauthenticated: the framework's 401 as problem+json.
    let anonymous = app.get("/v1/department/queue").await;
    assert_eq!(anonymous.status(), 401);
    // A case not at the department is not decided.
    let approver = staff_token(&app, "civil.approver2", "approver", CIVIL).await;
    let (_, early) = passed_case(&app, "early-case").await;
    assert_problem(
        decide(
            &app,
            &approver,
            Desk::Department,
            &early,
            json!({"outcome": "approved"}),
        )
        .await,
        409,
        "invalid_state",
    )
    .await;
}

#[tokio::test]
async fn a_result_file_of_several_mebibytes_is_accepted_like_a_page() {
    let app = quick_app().await;
    let approver = staff_token(&app, "scan.heavy", "approver", CIVIL).await;
    let (citizen, id) = waiting_case(&app, "heavy-scan", POSTED_ITEM).await;
    // A scanned licence: a 5 MiB PDF, over the 1 MiB limit of JSON bodies.
    let mut pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\n".to_vec();
    while pdf.len() < 5 * 1024 * 1024 {
        pdf.extend_from_slice(b"% scanned page data, padded to size\n");
    }
    pdf.extend_from_slice(b"trailer <<>>\n%%EOF\n");
    assert!(pdf.len() > app.config.server.body_limit_bytes);
    let created = json_of(
        upload_result(&app, &approver, &id, pdf.clone(), "营业执照 扫描件.pdf").await,
        201,
    )
    .await;
    assert_eq!(created["content_type"], "application/pdf");
    assert_eq!(created["size"], pdf.len());
    assert_eq!(created["original_name"], "营业执照 扫描件.pdf");
    // The upload limit still holds for files.
    let too_big = vec![b'%'; app.config.uploads.max_page_bytes as usize + 128 * 1024];
    assert_problem(
        upload_result(&app, &approver, &id, too_big, "huge.pdf").await,
        413,
        "payload_too_large",
    )
    .await;
    // The decision, a JSON body, keeps the JSON limit.
    let long_note = "字".repeat(app.config.server.body_limit_bytes / 3 + 1);
    assert_problem(
        decide(
            &app,
            &approver,
            Desk::Department,
            &id,
            json!({"outcome": "refused", "note": long_note}),
        )
        .await,
        413,
        "payload_too_large",
    )
    .await;
    let _ = citizen;
}
