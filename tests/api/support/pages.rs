//! Pages the citizen's way: real JPEGs, multipart uploads (path A), upload tickets and the PUT
//! to the store (path B), and what a stored photo holds.

use beebox::storage::ObjectKey;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::TestApp;

pub const GPS_PHOTO: &[u8] = include_bytes!("../../fixtures/media/gps-photo.jpg");
pub const HOUSEHOLD_PNG: &[u8] = include_bytes!("../../fixtures/media/household.png");

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

/// A real JPEG of noise, which compresses badly: about `side * side * 3 / 2` bytes.
pub fn noisy_jpeg(side: u16) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..side as usize * side as usize * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 95)
        .encode(&pixels, side, side, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// A real photo of about `mib` MiB, made once per size.
pub fn big_jpeg(mib: usize) -> Vec<u8> {
    static MADE: std::sync::Mutex<Vec<(usize, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap();
    if let Some((_, bytes)) = made.iter().find(|(size, _)| *size == mib) {
        return bytes.clone();
    }
    let side = ((mib * 1024 * 1024 * 2 / 3) as f64).sqrt() as u16;
    let bytes = noisy_jpeg(side);
    made.push((mib, bytes.clone()));
    bytes
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

/// Path A, asserting 201: the page as the answer shows it.
pub async fn upload_ok(
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

/// Path B: ticket, PUT, complete.
pub async fn direct_upload(
    app: &TestApp,
    token: &str,
    id: &str,
    material: &str,
    bytes: &[u8],
    content_type: &str,
) -> reqwest::Response {
    let ticket = ticket_for(app, token, id, material, content_type, bytes).await;
    assert_eq!(ticket.status(), 201);
    let ticket: serde_json::Value = ticket.json().await.unwrap();
    assert_eq!(ticket["method"], "PUT");
    let put = put_to(app, &ticket, bytes.to_vec()).await.status();
    assert!(put.is_success(), "PUT to the store: {put}");
    let upload_id = ticket["upload_id"].as_str().unwrap();
    app.post_as(
        token,
        &format!("/v1/uploads/{upload_id}/complete"),
        &json!({}),
    )
    .await
}

/// Path B's ticket for an ID card page of `bytes`, as JPEG.
pub async fn ticket(app: &TestApp, token: &str, id: &str, bytes: &[u8]) -> reqwest::Response {
    ticket_for(app, token, id, "id-card", "image/jpeg", bytes).await
}

/// Path B's ticket for a page of `material`: `bytes` as `content_type`, with their size and
/// SHA-256.
pub async fn ticket_for(
    app: &TestApp,
    token: &str,
    id: &str,
    material: &str,
    content_type: &str,
    bytes: &[u8],
) -> reqwest::Response {
    app.post_as(
        token,
        &format!("/v1/applications/{id}/materials/{material}/uploads"),
        &json!({"content_type": content_type, "size": bytes.len(),
                "sha256": hex::encode(Sha256::digest(bytes))}),
    )
    .await
}

/// PUTs `body` to a path B ticket's URL with the headers it names, as a client would.
pub async fn put_to(app: &TestApp, ticket: &serde_json::Value, body: Vec<u8>) -> reqwest::Response {
    let mut request = app.client.put(ticket["url"].as_str().unwrap()).body(body);
    for (name, value) in ticket["headers"].as_object().unwrap() {
        request = request.header(name, value.as_str().unwrap());
    }
    request.send().await.unwrap()
}

pub fn staged_key(ticket: &serde_json::Value) -> ObjectKey {
    ObjectKey::parse(format!("uploads/{}", ticket["upload_id"].as_str().unwrap())).unwrap()
}

/// The object key a page's row names.
pub async fn page_key(app: &TestApp, id: &str, page_id: &str) -> ObjectKey {
    let db = app.state.database().unwrap();
    let page = beebox::store::pages::find(db, id.parse().unwrap(), page_id.parse().unwrap())
        .await
        .unwrap()
        .expect("the page row");
    ObjectKey::parse(page.object_key).unwrap()
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
