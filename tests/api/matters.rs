use beebox::domain::catalog::CatalogFile;
use beebox::startup::SAMPLE_CATALOG;
use serde_json::json;

use crate::support::{assert_problem, spawn_app};

#[tokio::test]
async fn lists_the_sample_catalogue_on_first_start() {
    let app = spawn_app().await;
    let response = app.get("/v1/matters").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(items.len() >= 6, "{body}");
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    for code in [
        "elderly-preferential-card",
        "real-estate-transfer-resale",
        "birth-registration",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let first = &items[0];
    for field in [
        "name",
        "description",
        "department",
        "processing_days",
        "version",
    ] {
        assert!(!first[field].is_null(), "{field} missing in {first}");
    }
    assert_eq!(first["version"], 1);
}

#[tokio::test]
async fn shows_an_item_with_its_materials_in_order() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .get("/v1/matters/real-estate-transfer-resale")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["name"], "不动产转移登记（二手房买卖）");
    assert_eq!(body["department"]["code"], "real-estate-registration");
    assert_eq!(body["originals_by_courier"], true);
    let file = CatalogFile::parse(SAMPLE_CATALOG).unwrap();
    let def = file
        .matters
        .iter()
        .find(|m| m.code == "real-estate-transfer-resale")
        .unwrap();
    let materials = body["materials"].as_array().unwrap();
    assert_eq!(materials.len(), def.materials.len());
    for (shown, defined) in materials.iter().zip(&def.materials) {
        assert_eq!(shown["code"], defined.code.as_str());
        assert_eq!(shown["min_pages"], defined.min_pages);
        assert_eq!(shown["max_pages"], defined.max_pages);
        assert_eq!(shown["required"], defined.required);
        assert_eq!(shown["original_required"], defined.original_required);
        assert!(shown["kinds"].as_array().is_some_and(|k| !k.is_empty()));
        assert_eq!(shown["document_type"], json!(defined.document_type));
        assert_eq!(shown["reuse"], defined.reuse.as_str());
        assert_eq!(shown["reuse_valid_days"], json!(defined.reuse_valid_days));
    }
    let certificate = &materials
        .iter()
        .find(|m| m["code"] == "property-certificate")
        .unwrap();
    assert_eq!(certificate["document_type"], "property_certificate");
    assert_eq!(certificate["reuse"], "accepted");
    assert_eq!(certificate["reuse_valid_days"], 90);
    let contract = &materials
        .iter()
        .find(|m| m["code"] == "sale-contract")
        .unwrap();
    assert_eq!(contract["document_type"], json!(null));
    assert_eq!(contract["reuse"], "fresh_only");
}

#[tokio::test]
async fn a_changed_reuse_policy_is_a_new_version_and_the_old_one_keeps_its_own() {
    let app = spawn_app().await;
    let stricter = SAMPLE_CATALOG.replacen(
        "document_type = \"property_certificate\"\nreuse = \"accepted\"\nreuse_valid_days = 90",
        "document_type = \"property_certificate\"",
        1,
    );
    assert_ne!(
        stricter, SAMPLE_CATALOG,
        "the sample accepts a reused certificate"
    );
    let report = app
        .import_catalog(&CatalogFile::parse(&stricter).unwrap())
        .await;
    assert_eq!(
        report.updated,
        vec!["real-estate-transfer-resale".to_string()]
    );
    let certificate = |item: serde_json::Value| {
        item["materials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == "property-certificate")
            .cloned()
            .unwrap()
    };
    let now: serde_json::Value = app
        .get("/v1/matters/real-estate-transfer-resale")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["version"], 2);
    assert_eq!(certificate(now)["reuse"], "fresh_only");
    let before: serde_json::Value = app
        .get("/v1/matters/real-estate-transfer-resale?version=1")
        .await
        .json()
        .await
        .unwrap();
    let before = certificate(before);
    assert_eq!(before["reuse"], "accepted");
    assert_eq!(before["reuse_valid_days"], 90);
}

#[tokio::test]
async fn unknown_matter_code_is_a_404_problem() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.get("/v1/matters/no-such-item").await,
        404,
        "matter_not_found",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("no-such-item"));
    assert_problem(
        app.get("/v1/matters/birth-registration?version=99").await,
        404,
        "matter_not_found",
    )
    .await;
}

#[tokio::test]
async fn filters_by_department() {
    let app = spawn_app().await;
    let body: serde_json::Value = app
        .get("/v1/matters?department=civil-affairs")
        .await
        .json()
        .await
        .unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|i| i["department"]["code"] == "civil-affairs")
    );
}

#[tokio::test]
async fn reimporting_a_changed_item_adds_a_version_and_keeps_the_old_one() {
    let app = spawn_app().await;
    let changed = SAMPLE_CATALOG.replacen("processing_days = 3", "processing_days = 4", 1);
    let mut file = CatalogFile::parse(&changed).unwrap();
    let changed_code = file
        .matters
        .iter()
        .find(|m| m.processing_days == 4)
        .map(|m| m.code.clone())
        .expect("the sample has an item with 3 processing days");
    let report = app.import_catalog(&file).await;
    assert_eq!(report.updated, vec![changed_code.clone()]);
    assert!(report.created.is_empty());

    let current: serde_json::Value = app
        .get(&format!("/v1/matters/{changed_code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["version"], 2);
    assert_eq!(current["processing_days"], 4);
    let old: serde_json::Value = app
        .get(&format!("/v1/matters/{changed_code}?version=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["version"], 1);
    assert_eq!(old["processing_days"], 3);

    // The list shows each item once, at its current version.
    let list: serde_json::Value = app.get("/v1/matters").await.json().await.unwrap();
    let rows: Vec<&serde_json::Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == changed_code.as_str())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["version"], 2);

    // The same file again changes nothing.
    let again = app.import_catalog(&file).await;
    assert!(again.updated.is_empty() && again.created.is_empty());
    assert_eq!(again.unchanged.len(), file.matters.len());

    // A brand-new item is created at version 1.
    let mut extra = file.matters[0].clone();
    extra.code = "brand-new-item".into();
    file.matters.push(extra);
    let report = app.import_catalog(&file).await;
    assert_eq!(report.created, vec!["brand-new-item".to_string()]);
}

/// Sends `GET path` with `If-None-Match: tag`.
async fn get_if_none_match(
    app: &crate::support::TestApp,
    path: &str,
    tag: &str,
) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("If-None-Match", tag)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is sent"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn catalogue_reads_carry_an_etag_and_a_matching_if_none_match_answers_304() {
    let app = spawn_app().await;
    for path in [
        "/v1/matters",
        "/v1/matters?department=civil-affairs",
        "/v1/matters/elderly-preferential-card",
        "/v1/bundles",
        "/v1/bundles/newborn",
    ] {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200, "{path}");
        let tag = header(&first, "ETag");
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{path}: {tag}");
        assert_eq!(
            header(&first, "Cache-Control"),
            "public, no-cache",
            "{path}"
        );
        let body = first.bytes().await.unwrap();

        // The same tag, strong or weak, alone or in a list, or `*`: nothing to send.
        for given in [
            tag.clone(),
            format!("W/{tag}"),
            format!("\"stale\", {tag}"),
            "*".to_string(),
        ] {
            let again = get_if_none_match(&app, path, &given).await;
            assert_eq!(again.status(), 304, "{path} with {given}");
            assert_eq!(header(&again, "ETag"), tag, "{path}");
            assert_eq!(header(&again, "Cache-Control"), "public, no-cache");
            assert!(
                again.bytes().await.unwrap().is_empty(),
                "{path}: a 304 has no body"
            );
        }
        // A stale tag, or one that does not parse, gets the whole body: never an error.
        for given in [
            "\"stale\"",
            "not-a-tag",
            "\"unterminated",
            "",
            "\"标签\"",
            "W/",
        ] {
            let full = get_if_none_match(&app, path, given).await;
            assert_eq!(full.status(), 200, "{path} with {given:?}");
            assert_eq!(header(&full, "ETag"), tag);
            assert_eq!(full.bytes().await.unwrap(), body, "{path} with {given:?}");
        }
    }

    // Lists of other departments differ, and an unknown one is the empty list with its own tag.
    let civil = header(
        &app.get("/v1/matters?department=civil-affairs").await,
        "ETag",
    );
    let all = header(&app.get("/v1/matters").await, "ETag");
    assert_ne!(civil, all);
    let unknown = app.get("/v1/matters?department=nowhere").await;
    assert_eq!(unknown.status(), 200);
    let unknown: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(unknown["items"], json!([]));

    // A named version never changes: it may be kept for good.
    let pinned = app
        .get("/v1/matters/elderly-preferential-card?version=1")
        .await;
    assert_eq!(pinned.status(), 200);
    assert_eq!(
        header(&pinned, "Cache-Control"),
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn an_import_changes_the_tag_so_a_client_holding_the_old_one_gets_the_new_body() {
    let app = spawn_app().await;
    let path = "/v1/matters/elderly-preferential-card";
    let before = app.get(path).await;
    let old_tag = header(&before, "ETag");
    let old: serde_json::Value = before.json().await.unwrap();
    let list_tag = header(&app.get("/v1/matters").await, "ETag");
    let unrelated = header(&app.get("/v1/bundles").await, "ETag");

    let changed = SAMPLE_CATALOG.replacen(
        &format!("processing_days = {}", old["processing_days"]),
        "processing_days = 29",
        1,
    );
    let report = app
        .import_catalog(&CatalogFile::parse(&changed).unwrap())
        .await;
    assert_eq!(report.updated.len(), 1, "{report:?}");
    let code = &report.updated[0];
    let path = format!("/v1/matters/{code}");

    let now = get_if_none_match(&app, &path, &old_tag).await;
    assert_eq!(now.status(), 200);
    assert_ne!(header(&now, "ETag"), old_tag);
    let now: serde_json::Value = now.json().await.unwrap();
    assert_eq!(now["processing_days"], 29);
    assert_eq!(now["version"], 2);
    let list = get_if_none_match(&app, "/v1/matters", &list_tag).await;
    assert_eq!(list.status(), 200, "the list shows the new version");
    // What the import did not change keeps its tag.
    let bundles = get_if_none_match(&app, "/v1/bundles", &unrelated).await;
    assert_eq!(bundles.status(), 304);
}

/// Two instances on one database; `beebox catalog import` from a third process. When it
/// returns, the next request to either instance sees the new version.
#[tokio::test]
async fn an_import_from_the_command_line_is_served_by_every_running_instance_at_once() {
    use crate::support::binary::beebox;
    use crate::support::spawn_app_on;
    let first = spawn_app().await;
    let url = first.config.database_url();
    // On PostgreSQL the second instance would not check for a minute: the import's notification
    // must reach it. SQLite has no notifications, and its default check finds the import.
    let postgres = url.starts_with("postgres");
    let second = spawn_app_on(&url, |c| {
        if postgres {
            c.catalog.refresh_ms = 60_000;
        }
    })
    .await;
    let path = "/v1/matters/birth-registration";
    for app in [&first, &second] {
        let item: serde_json::Value = app.get(path).await.json().await.unwrap();
        assert_eq!(item["version"], 1);
    }

    for round in 2..=3 {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("matters.toml");
        let text = SAMPLE_CATALOG.replacen(
            "name = \"生育登记\"",
            &format!("name = \"生育登记（第{round}版）\""),
            1,
        );
        assert_ne!(text, SAMPLE_CATALOG, "the sample names 生育登记");
        std::fs::write(&file, text).unwrap();
        let dir_path = dir.path().to_path_buf();
        let db_url = url.clone();
        let started = std::time::Instant::now();
        let output = tokio::task::spawn_blocking(move || {
            beebox(
                &dir_path,
                &["catalog", "import", file.to_str().unwrap()],
                &[("BEEBOX_DATABASE__URL", db_url.as_str())],
            )
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(out.contains("1 updated"), "{out}");
        assert!(out.contains("every running instance serves it"), "{out}");
        if postgres {
            // Not the second instance's own checks (every 10 s at the most here): notified.
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(3), "{took:?}");
        }
        for app in [&first, &second] {
            let item: serde_json::Value = app.get(path).await.json().await.unwrap();
            assert_eq!(item["version"], round, "{}", app.address);
            assert_eq!(item["name"], format!("生育登记（第{round}版）"));
            let list: serde_json::Value = app.get("/v1/matters").await.json().await.unwrap();
            let listed = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["code"] == "birth-registration")
                .cloned()
                .unwrap();
            assert_eq!(listed["version"], round);
        }
    }
}
