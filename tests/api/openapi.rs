//! The committed contract is what the code serves.

use crate::support::spawn_app;

const COMMITTED: &str = include_str!("../../openapi/beebox.yaml");

#[test]
fn committed_spec_matches_the_code() {
    let generated = beebox::api::spec_yaml();
    assert!(
        generated == COMMITTED,
        "openapi/beebox.yaml is stale: run scripts/export-openapi.sh and commit the result"
    );
}

#[tokio::test]
async fn served_json_and_yaml_equal_the_committed_file() {
    let app = spawn_app().await;
    let committed: serde_json::Value = serde_yaml_ng::from_str(COMMITTED).unwrap();
    let json: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(json, committed);
    let yaml = app.get("/openapi.yaml").await.text().await.unwrap();
    let yaml: serde_json::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(yaml, committed);
    assert!(json["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn docs_are_served() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("swagger"));
}

#[test]
fn every_operation_documents_problem_errors() {
    let spec: serde_json::Value = serde_yaml_ng::from_str(COMMITTED).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") && path != "/readyz" {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let has_problem = responses.values().any(|r| {
                r["content"]
                    .as_object()
                    .is_some_and(|c| c.contains_key("application/problem+json"))
            });
            assert!(has_problem, "{method} {path} documents no problem response");
        }
    }
}
