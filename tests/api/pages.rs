//! Pages: upload path A (multipart through the service), path B (presigned PUT + complete),
//! what every page goes through, deleting, reordering and submitting.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::applications::create;
use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

pub const GPS_PHOTO: &[u8] = include_bytes!("../fixtures/media/gps-photo.jpg");
pub const HOUSEHOLD_PNG: &[u8] = include_bytes!("../fixtures/media/household.png");
const ITEM: &str = "social-security-card-replacement";

/// A real JPEG of a flat colour; `seed` makes each one different.
pub fn jpeg(seed: u8) -> Vec<u8> {
    let (w, h) = (64u16, 48u16);
    let pixels: Vec<u8> = (0..(w as usize * h as usize))
        .flat_map(|i| [seed, (i % 251) as u8, 255 - seed])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    id: &str,
    material: &str,
    bytes: Vec<u8>,
    file_name: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        // wx.uploadFile sends its formData beside the file; it is ignored.
        .text("source", "mini-program")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
        );
    app.client
        .post(app.url(&format!("/v1/applications/{id}/materials/{material}/pages")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn upload_ok(
    app: &TestApp,
    token: &str,
    id: &str,
    material: &str,
    bytes: Vec<u8>,
) -> serde_json::Value {
    let response = upload(app, token, id, material, bytes, "page.jpg").await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// PUTs `body` to a path B ticket's URL with the headers it names, as a client would.
async fn put_to_ticket(
    app: &TestApp,
    ticket: &serde_json::Value,
    body: Vec<u8>,
) -> reqwest::StatusCode {
    let mut request = app.client.put(ticket["url"].as_str().unwrap()).body(body);
    for (name, value) in ticket["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.unwrap().status()
}

/// Path B: ticket, PUT, complete.
async fn direct_upload(
    app: &TestApp,
    token: &str,
    id: &str,
    material: &str,
    bytes: &[u8],
    content_type: &str,
) -> reqwest::Response {
    let ticket = app
        .post_as(
            token,
            &format!("/v1/applications/{id}/materials/{material}/uploads"),
            &json!({"content_type": content_type, "size": bytes.len(),
                    "sha256": hex::encode(Sha256::digest(bytes))}),
        )
        .await;
    assert_eq!(ticket.status(), 201);
    let ticket: serde_json::Value = ticket.json().await.unwrap();
    assert_eq!(ticket["method"], "PUT");
    let put = put_to_ticket(app, &ticket, bytes.to_vec()).await;
    assert!(put.is_success(), "PUT to the store: {put}");
    let upload_id = ticket["upload_id"].as_str().unwrap();
    app.post_as(
        token,
        &format!("/v1/uploads/{upload_id}/complete"),
        &json!({}),
    )
    .await
}

pub async fn fetch(app: &TestApp, url: &str) -> Vec<u8> {
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

/// The APP1 payloads of a JPEG, read marker by marker up to the image data.
pub fn app1_segments(jpeg: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF && jpeg[i + 1] != 0xDA {
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if jpeg[i + 1] == 0xE1 {
            out.push(&jpeg[i + 4..i + 2 + len]);
        }
        i += 2 + len;
    }
    out
}

/// Whether an `Exif\0\0` payload's first IFD points to a GPS IFD (tag 0x8825).
pub fn has_gps_ifd(app1: &[u8]) -> bool {
    let Some(tiff) = app1.strip_prefix(b"Exif\0\0") else {
        return false;
    };
    let big = tiff.starts_with(b"MM");
    let u16_at = |o: usize| {
        let b = [tiff[o], tiff[o + 1]];
        if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let u32_at = |o: usize| {
        let b = [tiff[o], tiff[o + 1], tiff[o + 2], tiff[o + 3]];
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let ifd = u32_at(4) as usize;
    (0..u16_at(ifd) as usize).any(|n| u16_at(ifd + 2 + 12 * n) == 0x8825)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The whole citizen flow of the issue, over HTTP, on the given store.
async fn citizen_flow(app: &TestApp) {
    let token = app.citizen_token("flow").await;
    let created = create(app, &token, ITEM).await;
    let id = created["id"].as_str().unwrap();

    // Path A: a real phone photo with GPS, maker and XMP data, under a Chinese file name.
    let response = upload(
        app,
        &token,
        id,
        "id-card",
        GPS_PHOTO.to_vec(),
        "身份证正面.jpg",
    )
    .await;
    assert_eq!(response.status(), 201);
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["material_code"], "id-card");
    assert_eq!(page["index"], 1);
    assert_eq!(page["content_type"], "image/jpeg");
    assert_eq!(page["original_name"], "身份证正面.jpg");
    // Orientation 6: the 800x600 photo displays as 600x800.
    assert_eq!(
        (page["width"].as_i64(), page["height"].as_i64()),
        (Some(600), Some(800))
    );

    // Path B: a PNG straight to the store.
    let response = direct_upload(app, &token, id, "id-card", HOUSEHOLD_PNG, "image/png").await;
    assert_eq!(response.status(), 201);
    let png_page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(png_page["index"], 2);
    assert_eq!(png_page["content_type"], "image/png");

    // Thumbnails are made off the upload's path; run the worker now rather than wait for it.
    beebox::sweeps::make_thumbnails(&app.state, 100)
        .await
        .unwrap();
    // What is stored has no location, camera or creator left, and its hash is the one reported.
    let detail: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let id_card = detail["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-card")
        .unwrap();
    assert_eq!(id_card["page_count"], 2);
    assert_eq!(id_card["satisfied"], true);
    let stored = fetch(app, id_card["pages"][0]["url"].as_str().unwrap()).await;
    assert_eq!(
        hex::encode(Sha256::digest(&stored)),
        page["sha256"].as_str().unwrap()
    );
    assert_eq!(stored.len() as i64, page["size"].as_i64().unwrap());
    for leak in [
        &b"GPS"[..],
        b"Apple",
        b"iPhone",
        b"Zhang San",
        b"BeeboxFixture",
        b"http://ns.adobe.com/xap",
    ] {
        assert!(
            !contains(&stored, leak),
            "stored photo still holds {}",
            String::from_utf8_lossy(leak)
        );
    }
    assert!(
        contains(GPS_PHOTO, b"Apple"),
        "the fixture itself carries the metadata"
    );
    assert!(
        app1_segments(GPS_PHOTO).iter().any(|s| has_gps_ifd(s)),
        "the fixture has GPS"
    );
    let kept = app1_segments(&stored);
    assert!(!kept.iter().any(|s| has_gps_ifd(s)), "GPS IFD removed");
    assert!(
        !kept.iter().any(|s| s.starts_with(b"http://ns.adobe.com")),
        "XMP removed"
    );
    let thumbnail = fetch(app, id_card["pages"][0]["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(&thumbnail[..3], &[0xFF, 0xD8, 0xFF]);
    let png_stored = fetch(app, id_card["pages"][1]["url"].as_str().unwrap()).await;
    assert!(
        !contains(&png_stored, b"Hangzhou"),
        "PNG text chunks removed"
    );

    // Submitting with the ID photo missing names exactly that material.
    let refused = app
        .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    let problem = assert_problem(refused, 422, "materials_incomplete").await;
    let failing: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["id-photo"]);

    upload_ok(app, &token, id, "id-photo", jpeg(7)).await;
    let submitted = app
        .post_as(&token, &format!("/v1/applications/{id}/submit"), &json!({}))
        .await;
    assert_eq!(submitted.status(), 200);
    let submitted: serde_json::Value = submitted.json().await.unwrap();
    assert_eq!(submitted["state"], "submitted");
    assert!(submitted["submitted_at"].is_string());

    let events: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "submit"]);
    assert_eq!(events["items"][1]["from_state"], "draft");
    assert_eq!(events["items"][1]["to_state"], "submitted");

    // From now on the pages are fixed.
    let late = upload(app, &token, id, "id-photo", jpeg(8), "late.jpg").await;
    assert_problem(late, 409, "application_not_editable").await;
}

#[tokio::test]
async fn citizen_flow_on_the_filesystem_store() {
    let app = spawn_app().await;
    citizen_flow(&app).await;
}

#[tokio::test]
async fn citizen_flow_on_the_s3_store() {
    let s3 = crate::s3_server::S3Server::start().await;
    let app = spawn_app_with(|c| {
        c.storage.backend = beebox::config::StorageBackend::S3;
        c.storage.s3 = s3.config();
    })
    .await;
    citizen_flow(&app).await;
}

async fn draft(app: &TestApp, name: &str) -> (String, String) {
    let token = app.citizen_token(name).await;
    let created = create(app, &token, ITEM).await;
    (token, created["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn bad_files_are_refused_each_with_its_own_code() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "badfiles").await;
    let exe = [b"MZ\x90\x00\x03\x00\x00\x00".as_slice(), &[0u8; 200]].concat();
    let problem = assert_problem(
        upload(&app, &token, &id, "id-card", exe, "photo.jpg").await,
        422,
        "unsupported_file_type",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("content"));
    let truncated = GPS_PHOTO[..GPS_PHOTO.len() / 2].to_vec();
    assert_problem(
        upload(&app, &token, &id, "id-card", truncated, "cut.jpg").await,
        422,
        "corrupt_file",
    )
    .await;
    assert_problem(
        upload(&app, &token, &id, "id-card", Vec::new(), "empty.jpg").await,
        422,
        "empty_file",
    )
    .await;
    assert_problem(
        upload(
            &app,
            &token,
            &id,
            "id-card",
            bomb_png(50_000, 50_000),
            "bomb.png",
        )
        .await,
        422,
        "image_too_large",
    )
    .await;
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    assert_problem(
        upload(&app, &token, &id, "id-card", pdf, "scan.pdf").await,
        422,
        "file_type_not_allowed",
    )
    .await;
    // Nothing was kept.
    let detail: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        detail["materials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["page_count"] == 0)
    );
}

/// A PNG whose header declares `w` x `h` pixels, with a token of image data.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
        out
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

#[tokio::test]
async fn a_page_over_the_cap_is_413() {
    let app = spawn_app_with(|c| c.uploads.max_page_bytes = 64 * 1024).await;
    let (token, id) = draft(&app, "bigfile").await;
    let response = upload(
        &app,
        &token,
        &id,
        "id-card",
        vec![0xFF; 100 * 1024],
        "big.jpg",
    )
    .await;
    assert_problem(response, 413, "page_too_large").await;
    // Past the multipart envelope too: refused by the body limit before the handler.
    let response = upload(
        &app,
        &token,
        &id,
        "id-card",
        vec![0xFF; 200 * 1024],
        "big.jpg",
    )
    .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn streamed_jpeg_refusals_keep_their_codes() {
    let app = spawn_app_with(|c| c.uploads.max_page_bytes = 64 * 1024).await;
    let (token, id) = draft(&app, "jpegrefusals").await;
    // SOI and a frame header declaring 50000 x 50000: refused before any pixel arrives.
    let mut bomb = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0xC3, 0x50, 0xC3, 0x50, 1, 1, 0x11, 0,
    ];
    bomb.extend_from_slice(&[0; 1000]);
    assert_problem(
        upload(&app, &token, &id, "id-card", bomb, "bomb.jpg").await,
        422,
        "image_too_large",
    )
    .await;
    // Damaged at its fourth byte and over the cap: the cap wins, as when pages were spooled
    // whole before they were judged.
    let mut damaged = vec![0xFF, 0xD8, 0xFF, 0x00];
    damaged.resize(100 * 1024, 0);
    assert_problem(
        upload(&app, &token, &id, "id-card", damaged.clone(), "big.jpg").await,
        413,
        "page_too_large",
    )
    .await;
    damaged.truncate(1000);
    assert_problem(
        upload(&app, &token, &id, "id-card", damaged, "small.jpg").await,
        422,
        "corrupt_file",
    )
    .await;
}

#[tokio::test]
async fn both_paths_store_a_photo_as_the_same_bytes() {
    // Path A cleans a JPEG as it streams in, path B cleans the stored file whole.
    let app = spawn_app().await;
    let (token_a, a) = draft(&app, "streamed").await;
    let (token_b, b) = draft(&app, "direct").await;
    let page_a = upload_ok(&app, &token_a, &a, "id-card", GPS_PHOTO.to_vec()).await;
    let response = direct_upload(&app, &token_b, &b, "id-card", GPS_PHOTO, "image/jpeg").await;
    assert_eq!(response.status(), 201);
    let page_b: serde_json::Value = response.json().await.unwrap();
    for field in ["content_type", "size", "sha256", "width", "height"] {
        assert_eq!(page_a[field], page_b[field], "{field}");
    }
}

#[tokio::test]
async fn multipart_without_a_file_field_is_400() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "nofile").await;
    let form = reqwest::multipart::Form::new().text("name", "身份证");
    let response = app
        .client
        .post(app.url(&format!("/v1/applications/{id}/materials/id-card/pages")))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "file_missing").await;
}

#[tokio::test]
async fn unknown_material_and_other_citizens_applications_are_404() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "owner").await;
    assert_problem(
        upload(&app, &token, &id, "no-such-material", jpeg(1), "a.jpg").await,
        404,
        "material_not_found",
    )
    .await;
    let intruder = app.citizen_token("intruder").await;
    assert_problem(
        upload(&app, &intruder, &id, "id-card", jpeg(1), "a.jpg").await,
        404,
        "application_not_found",
    )
    .await;
}

#[tokio::test]
async fn the_same_bytes_twice_and_too_many_pages_are_refused() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "repeat").await;
    upload_ok(&app, &token, &id, "id-card", jpeg(1)).await;
    assert_problem(
        upload(&app, &token, &id, "id-card", jpeg(1), "again.jpg").await,
        409,
        "duplicate_page",
    )
    .await;
    upload_ok(&app, &token, &id, "id-card", jpeg(2)).await;
    // id-card takes at most 2 pages.
    assert_problem(
        upload(&app, &token, &id, "id-card", jpeg(3), "third.jpg").await,
        422,
        "too_many_pages",
    )
    .await;
}

#[tokio::test]
async fn pages_can_be_deleted_and_reordered_while_draft() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "tidy").await;
    let first = upload_ok(&app, &token, &id, "id-card", jpeg(1)).await;
    let second = upload_ok(&app, &token, &id, "id-card", jpeg(2)).await;
    let order = app
        .client
        .put(app.url(&format!(
            "/v1/applications/{id}/materials/id-card/pages/order"
        )))
        .bearer_auth(&token)
        .json(&json!({"page_ids": [second["id"], first["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 200);
    let order: serde_json::Value = order.json().await.unwrap();
    assert_eq!(order["items"][0]["id"], second["id"]);
    assert_eq!(order["items"][0]["index"], 1);
    assert_eq!(order["items"][1]["index"], 2);
    let bad = app
        .client
        .put(app.url(&format!(
            "/v1/applications/{id}/materials/id-card/pages/order"
        )))
        .bearer_auth(&token)
        .json(&json!({"page_ids": [second["id"]]}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 422, "page_order_mismatch").await;

    let deleted = app
        .client
        .delete(app.url(&format!(
            "/v1/applications/{id}/pages/{}",
            second["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let detail: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let id_card = detail["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "id-card")
        .unwrap();
    assert_eq!(id_card["page_count"], 1);
    assert_eq!(id_card["pages"][0]["id"], first["id"]);
    assert_eq!(id_card["pages"][0]["index"], 1);
}

#[tokio::test]
async fn direct_upload_mismatches_are_422_and_the_object_is_deleted() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "direct").await;
    let bytes = jpeg(4);
    let ticket = |size: usize, sha: String| {
        let app = &app;
        let token = token.clone();
        let id = id.clone();
        async move {
            let response = app
                .post_as(
                    &token,
                    &format!("/v1/applications/{id}/materials/id-card/uploads"),
                    &json!({"content_type": "image/jpeg", "size": size, "sha256": sha}),
                )
                .await;
            assert_eq!(response.status(), 201);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let put = |ticket: serde_json::Value, body: Vec<u8>| {
        let app = &app;
        async move { assert!(put_to_ticket(app, &ticket, body).await.is_success()) }
    };
    let sha = hex::encode(Sha256::digest(&bytes));

    let wrong_size = ticket(bytes.len() + 1, sha.clone()).await;
    put(wrong_size.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        wrong_size["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        422,
        "size_mismatch",
    )
    .await;
    let staged = beebox::storage::ObjectKey::parse(format!(
        "uploads/{}",
        wrong_size["upload_id"].as_str().unwrap()
    ))
    .unwrap();
    assert!(
        app.state.store.head(&staged).await.is_err(),
        "object deleted"
    );

    let wrong_sha = ticket(bytes.len(), "0".repeat(64)).await;
    put(wrong_sha.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        wrong_sha["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        422,
        "sha256_mismatch",
    )
    .await;

    // Completing before anything was PUT.
    let nothing = ticket(bytes.len(), sha.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        nothing["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        409,
        "upload_missing",
    )
    .await;

    // A good one, completed twice (a retry after a lost response): the same page.
    let good = ticket(bytes.len(), sha).await;
    put(good.clone(), bytes.clone()).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        good["upload_id"].as_str().unwrap()
    );
    let first: serde_json::Value = app
        .post_as(&token, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let again = app.post_as(&token, &path, &json!({})).await;
    assert_eq!(again.status(), 201);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Someone else's upload id is 404.
    let intruder = app.citizen_token("intruder").await;
    assert_problem(
        app.post_as(&intruder, &path, &json!({})).await,
        404,
        "upload_not_found",
    )
    .await;

    // An unsupported declared type is refused up front.
    let response = app
        .post_as(
            &token,
            &format!("/v1/applications/{id}/materials/id-card/uploads"),
            &json!({"content_type": "application/x-msdownload", "size": 10, "sha256": "0".repeat(64)}),
        )
        .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "content_type");
}

#[tokio::test]
async fn completing_an_expired_upload_is_410_and_the_sweep_deletes_uncompleted_objects() {
    let app = spawn_app_with(|c| {
        c.uploads.direct_upload_ttl_secs = 1;
        // The worker's own `sweep_uploads` job (each minute) could sweep first; this test
        // runs the sweep itself.
        c.jobs.worker = false;
    })
    .await;
    let (token, id) = draft(&app, "slowpoke").await;
    let bytes = jpeg(5);
    let path = format!("/v1/applications/{id}/materials/id-card/uploads");
    let request = json!({"content_type": "image/jpeg", "size": bytes.len(),
                         "sha256": hex::encode(Sha256::digest(&bytes))});
    let late: serde_json::Value = app
        .post_as(&token, &path, &request)
        .await
        .json()
        .await
        .unwrap();
    let abandoned: serde_json::Value = app
        .post_as(&token, &path, &request)
        .await
        .json()
        .await
        .unwrap();
    for ticket in [&late, &abandoned] {
        assert!(
            put_to_ticket(&app, ticket, bytes.clone())
                .await
                .is_success()
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let path = format!(
        "/v1/uploads/{}/complete",
        late["upload_id"].as_str().unwrap()
    );
    assert_problem(
        app.post_as(&token, &path, &json!({})).await,
        410,
        "upload_expired",
    )
    .await;

    let key = beebox::storage::ObjectKey::parse(format!(
        "uploads/{}",
        abandoned["upload_id"].as_str().unwrap()
    ))
    .unwrap();
    assert!(app.state.store.head(&key).await.is_ok());
    let swept = beebox::sweeps::sweep_expired_uploads(&app.state)
        .await
        .unwrap();
    assert!(swept >= 1);
    assert!(app.state.store.head(&key).await.is_err());
}

#[tokio::test]
async fn concurrent_submits_leave_one_winner() {
    let app = spawn_app().await;
    let (token, id) = draft(&app, "racer").await;
    upload_ok(&app, &token, &id, "id-card", jpeg(1)).await;
    upload_ok(&app, &token, &id, "id-card", jpeg(2)).await;
    upload_ok(&app, &token, &id, "id-photo", jpeg(3)).await;
    let path = format!("/v1/applications/{id}/submit");
    let body = json!({});
    let (a, b) = tokio::join!(
        app.post_as(&token, &path, &body),
        app.post_as(&token, &path, &body)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let events: serde_json::Value = app
        .get_as(&token, &format!("/v1/applications/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let submits = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "submit")
        .count();
    assert_eq!(submits, 1);
}

#[tokio::test]
async fn parallel_uploads_to_one_application_all_land_in_order() {
    let app = spawn_app().await;
    let token = app.citizen_token("parallel").await;
    let created = create(&app, &token, "real-estate-transfer-resale").await;
    let id = created["id"].as_str().unwrap().to_string();
    // wx.uploadFile runs several uploads at once.
    let uploads = (0..6u8).map(|n| upload(&app, &token, &id, "sale-contract", jpeg(n), "p.jpg"));
    let responses = futures_util::future::join_all(uploads).await;
    let mut indexes = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let page: serde_json::Value = response.json().await.unwrap();
        indexes.push(page["index"].as_i64().unwrap());
    }
    indexes.sort();
    assert_eq!(indexes, [1, 2, 3, 4, 5, 6]);
}
