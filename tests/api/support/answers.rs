//! What a client sees, checked the same way everywhere: the problem+json shape, list bodies,
//! bytes inside a document.

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(body["request_id"].as_str().map(str::to_string), request_id);
    body
}

/// `(item[a], item[b])` for each element of a list body's `items`, as owned strings.
pub fn field_pairs(body: &serde_json::Value, a: &str, b: &str) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .expect("a list body")
        .iter()
        .map(|e| {
            (
                e[a].as_str().unwrap_or_default().to_string(),
                e[b].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The body of a JSON answer, after asserting its status (the body shows when it is not).
pub async fn json_of(response: reqwest::Response, status: u16) -> serde_json::Value {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Whether `needle` occurs in `haystack` (a PDF, a JPEG, a CSV).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How our PDFs write a shown string: UTF-16BE (the font's UniGB-UCS2-H encoding), as a literal
/// when every byte is ASCII (as for ASCII text, with NUL high bytes), else as hex.
pub fn pdf_shown(text: &str) -> Vec<u8> {
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    if bytes.is_ascii() {
        let escaped: String = bytes
            .iter()
            .map(|&b| match b {
                b' '..=b'~' => (b as char).to_string(),
                _ => format!("\\{b:03o}"),
            })
            .collect();
        format!("({escaped})").into_bytes()
    } else {
        format!("<{}>", hex::encode_upper(&bytes)).into_bytes()
    }
}
