//! How the console's files are served: from the binary, revalidated or cached for a year under
//! their build's hash, gzipped, and with a strict Content-Security-Policy.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::support::{assert_problem, spawn_app};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `/console/assets/<build>` prefix named by the page.
fn assets_prefix(html: &str) -> String {
    let start = html
        .find("/console/assets/")
        .expect("the page names its assets");
    let rest = &html[start..];
    let end = rest["/console/assets/".len()..].find('/').unwrap() + "/console/assets/".len();
    rest[..end].to_string()
}

#[tokio::test]
async fn the_page_is_revalidated_and_forbids_inline_script_eval_and_framing() {
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirects.get(app.url("/console")).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(header(&bare, "location"), "/console/");

    let page = app.get("/console/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "style-src 'self';",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let etag = header(&page, "etag");
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\""));
    // Every script is a file of ours: nothing inline for the policy to allow.
    for tag in html.split("<script").skip(1) {
        assert!(
            tag.contains(" src=\"/console/assets/"),
            "an inline script: {tag}"
        );
    }
    let again = app
        .client
        .get(app.url("/console/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn assets_are_immutable_under_their_build_hash_and_gzipped_when_asked() {
    let app = spawn_app().await;
    let html = app.get("/console/").await.text().await.unwrap();
    let prefix = assets_prefix(&html);
    let plain = app.get(&format!("{prefix}/app.js")).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(
        header(&plain, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        header(&plain, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&plain, "content-encoding"), "");
    let plain = plain.bytes().await.unwrap();

    let zipped = app
        .client
        .get(app.url(&format!("{prefix}/vendor/htm-preact.js")))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&zipped, "content-encoding"), "gzip");
    assert_eq!(header(&zipped, "vary"), "Accept-Encoding");
    let zipped = zipped.bytes().await.unwrap();
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    let vendored = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/console/web/vendor/htm-preact.js"
    ))
    .unwrap();
    assert_eq!(unzipped, vendored);
    assert!(zipped.len() < vendored.len() / 2);
    assert!(!plain.is_empty());

    // Another build's URL, or a file that is not there, is a 404 problem.
    let stale = app.get("/console/assets/000000000000/app.js").await;
    assert_problem(stale, 404, "route_not_found").await;
    let missing = app.get(&format!("{prefix}/nothing.js")).await;
    assert_problem(missing, 404, "route_not_found").await;
    let posted = app.client.post(app.url("/console/")).send().await.unwrap();
    assert_eq!(header(&posted, "allow"), "GET, HEAD");
    assert_problem(posted, 405, "method_not_allowed").await;
}

#[test]
fn vendored_files_match_their_recorded_checksums() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console/web/vendor");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sum, name) = line.split_once("  ").expect("sha256sum format");
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sum, "{name}");
        checked += 1;
    }
    assert!(checked >= 1);
}
