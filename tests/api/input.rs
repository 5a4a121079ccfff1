//! Text input at the edge: control characters and bidi controls in paths, queries, headers,
//! JSON fields and file names are refused naming the field, on both databases, before anything
//! is stored; and requests hyper itself refuses still answer problem+json.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::cases::new_application;
use crate::support::pages::jpeg;
use crate::support::staff::staff_token;
use crate::support::{TestApp, assert_problem, spawn_app};

/// The `field` of each of a problem's `errors`.
fn fields(problem: &Value) -> BTreeSet<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn nul_in_paths_and_queries_is_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    let problem = assert_problem(
        app.get("/v1/matters?department=%00").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(fields(&problem), set(&["department"]));
    assert!(problem["detail"].as_str().unwrap().contains("department"));

    let problem =
        assert_problem(app.get("/v1/matters/a%00b").await, 400, "invalid_parameter").await;
    assert_eq!(fields(&problem), set(&["code"]));
    // HEAD goes to the same handler, so it is checked the same way.
    let head = app
        .client
        .head(app.url("/v1/matters/a%00b"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 400);

    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let problem = assert_problem(
        app.get_as(&admin, "/v1/admin/jobs?kind=%00").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(fields(&problem), set(&["kind"]));
    // Other control characters too, and a name that is itself refused is shown escaped.
    let problem = assert_problem(
        app.get("/v1/matters?a%1Bb=1").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(fields(&problem), set(&["a\\u{1b}b"]));
}

#[tokio::test]
async fn nul_in_a_staff_login_or_a_display_name_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let login = app
        .client
        .post(app.url("/v1/staff/login"))
        .json(&json!({"username": "adm\u{0}in", "password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(login, 422, "validation_failed").await;
    assert_eq!(fields(&problem), set(&["username"]));

    let admin = staff_token(&app, "the.admin", "admin", "").await;
    let created = app
        .post_as(
            &admin,
            "/v1/admin/staff",
            &json!({"username": "new.member", "display_name": "Wang\u{0}Wu",
                    "password": "a long enough passphrase", "roles": ["reviewer"]}),
        )
        .await;
    let problem = assert_problem(created, 422, "validation_failed").await;
    assert_eq!(fields(&problem), set(&["display_name"]));
    let list: Value = app
        .get_as(&admin, "/v1/admin/staff")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing created"
    );
}

#[tokio::test]
async fn nul_anywhere_in_an_application_is_a_422_naming_each_field_and_stores_nothing() {
    let app = spawn_app().await;
    let token = app.citizen_token("nul-citizen").await;
    let mut body = new_application("birth-registration");
    body["matter_code"] = json!("birth-regis\u{0}tration");
    body["applicant"]["name"] = json!("张\u{0}三");
    body["note"] = json!("上午\u{0}在家");
    body["return_address"]["detail"] = json!("文三路\u{0}100 号");
    let problem = assert_problem(
        app.post_as(&token, "/v1/applications", &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&problem),
        set(&[
            "matter_code",
            "applicant.name",
            "note",
            "return_address.detail"
        ])
    );
    // One at a time, each is enough.
    for (field, pointer) in [
        ("matter_code", "/matter_code"),
        ("applicant.name", "/applicant/name"),
        ("note", "/note"),
        ("return_address.detail", "/return_address/detail"),
    ] {
        let mut body = new_application("birth-registration");
        *body.pointer_mut(pointer).unwrap() = json!("a\u{0}b");
        let problem = assert_problem(
            app.post_as(&token, "/v1/applications", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&problem), set(&[field]), "{field}");
    }
    let mine: Value = app
        .get_as(&token, "/v1/applications")
        .await
        .json()
        .await
        .unwrap();
    assert!(mine["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn notes_take_line_breaks_and_tabs_but_names_take_neither_nor_bidi_controls() {
    let app = spawn_app().await;
    let token = app.citizen_token("lines-citizen").await;
    let mut body = new_application("birth-registration");
    body["note"] = json!("上午在家\r\n下午\t不在");
    let created = app.post_as(&token, "/v1/applications", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["note"], "上午在家\r\n下午\t不在");
    // Names are kept as sent: any script, spaces, apostrophes.
    assert_eq!(created["applicant"]["name"], "张三");

    for (name, why) in [
        ("张三\n李四", "a line break"),
        ("张三\r", "a carriage return"),
        ("张\t三", "a tab"),
        ("\u{202E}三张", "a right-to-left override"),
        ("张三\u{2066}", "a bidi isolate"),
        ("张三\u{1b}[2J", "an escape sequence"),
    ] {
        let mut body = new_application("birth-registration");
        body["applicant"]["name"] = json!(name);
        let problem = assert_problem(
            app.post_as(&token, "/v1/applications", &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&problem), set(&["applicant.name"]), "{why}");
    }
    // A bidi control is refused in a note too; so is the contact name of an address.
    let mut body = new_application("birth-registration");
    body["note"] = json!("见附件\u{202E}fdp.exe");
    body["return_address"]["contact_name"] = json!("张三\n");
    let problem = assert_problem(
        app.post_as(&token, "/v1/applications", &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&problem),
        set(&["note", "return_address.contact_name"])
    );
}

/// A multipart page upload whose file part carries `file_name` exactly as given.
async fn upload_named(app: &TestApp, token: &str, id: &str, file_name: &str) -> reqwest::Response {
    let boundary = "beebox-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&jpeg(7));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.client
        .post(app.url(&format!(
            "/v1/applications/{id}/materials/applicant-id-card/pages"
        )))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn file_names_are_kept_as_sent_unless_they_hold_control_or_bidi_characters() {
    let app = spawn_app().await;
    let token = app.citizen_token("file-namer").await;
    let created: Value = app
        .post_as(
            &token,
            "/v1/applications",
            &new_application("birth-registration"),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    for (name, why) in [
        ("出生证明\u{202E}gpj.exe", "a right-to-left override"),
        ("scan\t1.jpg", "a tab"),
        ("scan\u{85}.jpg", "a C1 control"),
    ] {
        let problem = assert_problem(
            upload_named(&app, &token, id, name).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&problem), set(&["file"]), "{why}");
    }
    let kept = upload_named(&app, &token, id, "出生 证明 (副本).jpg").await;
    assert_eq!(kept.status(), 201);
    let page: Value = kept.json().await.unwrap();
    assert_eq!(page["original_name"], "出生 证明 (副本).jpg");
}

#[tokio::test]
async fn a_header_the_api_reads_refuses_a_tab_naming_the_header() {
    let app = spawn_app().await;
    let token = app.citizen_token("tab-key").await;
    let response = app
        .client
        .post(app.url("/v1/applications"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "key\twith-a-tab")
        .json(&new_application("birth-registration"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400, "invalid_parameter").await;
    assert_eq!(fields(&problem), set(&["Idempotency-Key"]));
}

/// Sends raw bytes and reads the answer until the server closes: `(status, content-type, body)`.
async fn raw_request(app: &TestApp, request: &[u8]) -> (u16, String, Value) {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, content_type, body)
}

#[tokio::test]
async fn requests_hyper_refuses_still_answer_problem_json() {
    let app = spawn_app().await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"POST /v1/applications HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\nContent-Length: 0\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"POST /v1/applications HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            {
                let mut r = b"GET /v1/matters HTTP/1.1\r\nHost: x\r\n".to_vec();
                for i in 0..10_000 {
                    r.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
                }
                r.extend_from_slice(b"\r\n");
                r
            },
            431,
            "headers_too_large",
        ),
        (
            format!("GET /v1/matters?q={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000))
                .into_bytes(),
            414,
            "uri_too_long",
        ),
    ];
    for (request, status, code) in cases {
        let (got, content_type, body) = raw_request(&app, &request).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code);
        assert_eq!(body["status"], status);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // The service still serves afterwards, on a fresh connection.
    assert_eq!(app.get("/v1/matters").await.status(), 200);
}

#[tokio::test]
async fn multipart_without_a_boundary_is_malformed_multipart() {
    let app = spawn_app().await;
    let token = app.citizen_token("no-boundary").await;
    let created: Value = app
        .post_as(
            &token,
            "/v1/applications",
            &new_application("birth-registration"),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app
        .client
        .post(app.url(&format!(
            "/v1/applications/{id}/materials/applicant-id-card/pages"
        )))
        .bearer_auth(&token)
        .header("content-type", "multipart/form-data")
        .body("--x\r\n\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_multipart").await;
}
