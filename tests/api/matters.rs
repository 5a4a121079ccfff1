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
    let db = app.state.database().unwrap();
    let stricter = SAMPLE_CATALOG.replacen(
        "document_type = \"property_certificate\"\nreuse = \"accepted\"\nreuse_valid_days = 90",
        "document_type = \"property_certificate\"",
        1,
    );
    assert_ne!(
        stricter, SAMPLE_CATALOG,
        "the sample accepts a reused certificate"
    );
    let report = beebox::store::catalog::import(db, &CatalogFile::parse(&stricter).unwrap())
        .await
        .unwrap();
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
    let db = app.state.database().unwrap();
    let changed = SAMPLE_CATALOG.replacen("processing_days = 3", "processing_days = 4", 1);
    let mut file = CatalogFile::parse(&changed).unwrap();
    let changed_code = file
        .matters
        .iter()
        .find(|m| m.processing_days == 4)
        .map(|m| m.code.clone())
        .expect("the sample has an item with 3 processing days");
    let report = beebox::store::catalog::import(db, &file).await.unwrap();
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
    let again = beebox::store::catalog::import(db, &file).await.unwrap();
    assert!(again.updated.is_empty() && again.created.is_empty());
    assert_eq!(again.unchanged.len(), file.matters.len());

    // A brand-new item is created at version 1.
    let mut extra = file.matters[0].clone();
    extra.code = "brand-new-item".into();
    file.matters.push(extra);
    let report = beebox::store::catalog::import(db, &file).await.unwrap();
    assert_eq!(report.created, vec!["brand-new-item".to_string()]);
}
