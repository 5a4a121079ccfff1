//! `/console/`: the back-office console, a browser client of the public `/v1` API and nothing
//! more. Its static files (`web/`) are compiled into the binary. They are hashed and gzipped
//! once, at start-up. `index.html` is revalidated on every load (`no-cache` with an ETag). It
//! names the other files under `/console/assets/<build>/`, where `<build>` is a hash of them
//! all, so those are cached for a year and a new build is a new URL. Every answer carries a
//! strict Content-Security-Policy: scripts and styles only from this origin, no inline script,
//! no `eval`, no framing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, Request, Response};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::config::{Config, StorageBackend};

/// Where the console is served.
pub const MOUNT: &str = "/console";

#[derive(RustEmbed)]
#[folder = "src/console/web/"]
#[exclude = "*.md"]
#[exclude = "vendor/SHA256SUMS"]
struct Web;

/// One file as served: its bytes, and its gzip when that is smaller.
struct Asset {
    body: Bytes,
    gzip: Option<Bytes>,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..20]);
        let gzip = gzip(&body).filter(|z| z.len() + 64 < body.len());
        Self {
            body: body.into(),
            gzip: gzip.map(Bytes::from),
            content_type,
            etag: HeaderValue::from_str(&etag).expect("hex is a valid header"),
        }
    }
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// The console's files, ready to serve.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    /// The hash of every file, in the assets' URLs.
    build: String,
    index: Asset,
    assets: HashMap<String, Asset>,
    csp: HeaderValue,
}

impl Console {
    pub fn new(config: &Config) -> Self {
        let mut names: Vec<String> = Web::iter().map(|n| n.to_string()).collect();
        names.sort();
        let mut hasher = Sha256::new();
        let mut files = Vec::new();
        for name in names {
            let file = Web::get(&name).expect("listed files exist");
            hasher.update(name.as_bytes());
            hasher.update(file.data.as_ref());
            files.push((name, file.data.into_owned()));
        }
        let build = hex::encode(hasher.finalize())[..12].to_string();
        let mut index = None;
        let mut assets = HashMap::new();
        for (name, body) in files {
            if name == "index.html" {
                let html = String::from_utf8_lossy(&body)
                    .replace("{{assets}}", &format!("{MOUNT}/assets/{build}"));
                index = Some(Asset::new(html.into_bytes(), "text/html; charset=utf-8"));
            } else {
                assets.insert(name.clone(), Asset::new(body, content_type(&name)));
            }
        }
        Self {
            inner: Arc::new(Inner {
                build,
                index: index.expect("src/console/web/index.html is embedded"),
                assets,
                csp: HeaderValue::from_str(&policy(config)).expect("the policy is ASCII"),
            }),
        }
    }

    /// The hash in the assets' URLs.
    pub fn build(&self) -> &str {
        &self.inner.build
    }

    fn answer(&self, req: &Request) -> Result<Response, poem::Error> {
        let path = req.uri().path();
        let rest = path.strip_prefix(MOUNT).unwrap_or(path);
        if rest.is_empty() {
            let location = match req.uri().query() {
                Some(query) => format!("{MOUNT}/?{query}"),
                None => format!("{MOUNT}/"),
            };
            return Ok(Response::builder()
                .status(StatusCode::PERMANENT_REDIRECT)
                .header(header::LOCATION, location)
                .finish());
        }
        let (asset, immutable) = if rest == "/" || rest == "/index.html" {
            (&self.inner.index, false)
        } else {
            let asset = rest
                .strip_prefix("/assets/")
                .and_then(|r| r.split_once('/'))
                .filter(|(build, _)| *build == self.inner.build)
                .and_then(|(_, name)| self.inner.assets.get(name))
                .ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))?;
            (asset, true)
        };
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return Err(poem::Error::from_status(StatusCode::METHOD_NOT_ALLOWED));
        }
        let mut response = Response::builder()
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::ETAG, asset.etag.clone())
            .header(header::VARY, "Accept-Encoding")
            .header(
                header::CACHE_CONTROL,
                if immutable {
                    "public, max-age=31536000, immutable"
                } else {
                    "no-cache"
                },
            );
        for (name, value) in self.security_headers() {
            response = response.header(name, value);
        }
        if matches_etag(req.headers(), &asset.etag) {
            return Ok(response.status(StatusCode::NOT_MODIFIED).finish());
        }
        let body = match &asset.gzip {
            Some(gzip) if accepts_gzip(req.headers()) => {
                response = response.header(header::CONTENT_ENCODING, "gzip");
                gzip.clone()
            }
            _ => asset.body.clone(),
        };
        if req.method() == Method::HEAD {
            return Ok(response.header(header::CONTENT_LENGTH, body.len()).finish());
        }
        Ok(response.body(body))
    }

    fn security_headers(&self) -> [(header::HeaderName, HeaderValue); 6] {
        [
            (header::CONTENT_SECURITY_POLICY, self.inner.csp.clone()),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
            (
                header::HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
            ),
        ]
    }
}

impl Endpoint for Console {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        self.answer(&req)
    }
}

/// Scripts, styles, fonts and API calls from this origin only. Page images also come from the
/// object store, which is another origin when it is S3.
fn policy(config: &Config) -> String {
    let images = match config.storage.backend {
        StorageBackend::Fs => String::new(),
        StorageBackend::S3 => match &config.storage.s3.endpoint {
            Some(endpoint) => format!(" {}", origin_of(endpoint)),
            None => " https://*.amazonaws.com".to_string(),
        },
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:{images}; \
         connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// `https://host:port` of a URL: the scheme and authority, without its path.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn matches_etag(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    wanted
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == ours)
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::{accepts_gzip, origin_of};
    use poem::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn the_origin_of_an_endpoint_drops_its_path() {
        assert_eq!(
            origin_of("https://s3.example.com:9000/bucket"),
            "https://s3.example.com:9000"
        );
        assert_eq!(origin_of("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
