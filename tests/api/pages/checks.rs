//! What every uploaded page goes through (path A, multipart through the service): file types,
//! image bombs, the size cap, streamed JPEG refusals, the same bytes twice and the page limit.

use crate::support::cases::draft;
use crate::support::pages::{GPS_PHOTO, jpeg, upload, upload_ok};
use crate::support::{assert_problem, spawn_app, spawn_app_with};

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
