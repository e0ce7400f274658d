//! Serves the web app (`castellan-web-assets`) for every path outside `/api`.
//!
//! - `/assets/*` (content-hashed names): `Cache-Control: public, max-age=31536000, immutable`.
//! - HTML: `no-cache`, a strict Content-Security-Policy (no inline script or style; WebAssembly
//!   allowed for Argon2id), `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`.
//! - Any other path without a file extension gets `index.html` (client-side routes).
//! - When the web app was not built, a small page says how to build it.
//! - `/api/*` paths that no route matched keep the API's JSON 404.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use castellan_web_assets::Asset;

/// The Content-Security-Policy of every HTML page.
pub const CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Castellan</title></head><body><h1>Castellan: web app not built</h1>\
<p>The API is running under <code>/api/v1</code>. To serve the web vault, build it with \
<code>./scripts/build-web</code> (or start the server with <code>./scripts/run</code>) \
and restart the server.</p></body></html>";

/// The router's fallback: the web app, or the API's JSON 404 under `/api`.
pub(crate) async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return crate::routes::api_not_found().await.into_response();
    }
    respond(&method, path, &headers, castellan_web_assets::get)
}

/// Answers a request for `path` from the files that `get` finds.
fn respond(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    get: impl Fn(&str) -> Option<Asset>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let rel = path.trim_start_matches('/');
    if rel
        .split('/')
        .any(|seg| seg == ".." || seg.starts_with('.'))
    {
        return not_found();
    }
    if get("index.html").is_none() {
        return html_response(StatusCode::SERVICE_UNAVAILABLE, Body::from(NOT_BUILT), None);
    }
    let file = if rel.is_empty() { "index.html" } else { rel };
    if let Some(asset) = get(file) {
        let etag = etag(&asset.sha256);
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
        {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        if asset.mime.starts_with("text/html") {
            return html_response(StatusCode::OK, Body::from(asset.data), Some(etag));
        }
        let cache = if file.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mut res = Response::new(Body::from(asset.data));
        let h = res.headers_mut();
        insert(h, header::CONTENT_TYPE, &asset.mime);
        insert(h, header::CACHE_CONTROL, cache);
        insert(h, header::ETAG, &etag);
        return res;
    }
    // A path that names a file (has an extension) and does not exist is a 404; anything else is
    // a client-side route of the single-page app.
    let last = rel.rsplit('/').next().unwrap_or("");
    if last.contains('.') || rel.starts_with("assets/") {
        return not_found();
    }
    match get("index.html") {
        Some(index) => {
            let etag = etag(&index.sha256);
            html_response(StatusCode::OK, Body::from(index.data), Some(etag))
        }
        None => not_found(),
    }
}

fn etag(sha256: &[u8; 32]) -> String {
    let mut s = String::with_capacity(2 + 32);
    s.push('"');
    for b in &sha256[..16] {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

fn insert(h: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn html_response(status: StatusCode, body: Body, etag: Option<String>) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    insert(h, header::CONTENT_TYPE, "text/html; charset=utf-8");
    insert(h, header::CACHE_CONTROL, "no-cache");
    insert(h, header::CONTENT_SECURITY_POLICY, CSP);
    insert(h, header::REFERRER_POLICY, "no-referrer");
    insert(h, header::X_FRAME_OPTIONS, "DENY");
    insert(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if let Some(e) = etag {
        insert(h, header::ETAG, &e);
    }
    res
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use super::*;

    fn files() -> HashMap<&'static str, (&'static str, &'static str)> {
        HashMap::from([
            ("index.html", ("<!doctype html><p>vault</p>", "text/html")),
            (
                "assets/index-abc123.js",
                ("console.log(1)", "text/javascript"),
            ),
            ("favicon.svg", ("<svg/>", "image/svg+xml")),
        ])
    }

    fn built(path: &str) -> Option<Asset> {
        files().get(path).map(|(body, mime)| Asset {
            data: Cow::Owned(body.as_bytes().to_vec()),
            mime: mime.to_string(),
            sha256: [7u8; 32],
        })
    }

    fn get(path: &str, f: impl Fn(&str) -> Option<Asset>) -> Response {
        respond(&Method::GET, path, &HeaderMap::new(), f)
    }

    fn header<'a>(r: &'a Response, name: &str) -> &'a str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn html_pages_carry_the_strict_policy_and_no_cache() {
        for path in ["/", "/index.html", "/vault/items/123"] {
            let r = get(path, built);
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&r, "content-security-policy"), CSP, "{path}");
            assert!(CSP.contains("script-src 'self' 'wasm-unsafe-eval'"));
            assert!(CSP.contains("object-src 'none'") && CSP.contains("frame-ancestors 'none'"));
            assert!(!CSP.contains("unsafe-inline"));
            assert_eq!(header(&r, "cache-control"), "no-cache");
            assert_eq!(header(&r, "referrer-policy"), "no-referrer");
            assert!(header(&r, "content-type").starts_with("text/html"));
        }
    }

    #[test]
    fn hashed_assets_are_immutable_and_other_files_revalidate() {
        let r = get("/assets/index-abc123.js", built);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&r, "content-type"), "text/javascript");
        let etag = header(&r, "etag").to_string();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        let r = respond(&Method::GET, "/assets/index-abc123.js", &h, built);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            header(&get("/favicon.svg", built), "cache-control"),
            "no-cache"
        );
    }

    #[test]
    fn missing_files_and_dot_paths_are_404_and_writes_are_refused() {
        for path in [
            "/assets/missing.js",
            "/robots.txt",
            "/.env",
            "/a/../index.html",
        ] {
            assert_eq!(get(path, built).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let r = respond(&Method::POST, "/", &HeaderMap::new(), built);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn an_unbuilt_web_app_gets_a_clear_page() {
        let r = get("/", |_| None);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&r, "content-security-policy"), CSP);
    }

    #[tokio::test]
    async fn api_paths_keep_the_json_404() {
        for path in ["/api", "/api/v2/x", "/api/v1/nope"] {
            let r = fallback(Method::GET, Uri::from_static("/"), HeaderMap::new()).await;
            assert_ne!(r.status(), StatusCode::NOT_FOUND);
            let uri: Uri = path.parse().unwrap();
            let r = fallback(Method::GET, uri, HeaderMap::new()).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(header(&r, "content-type"), "application/json", "{path}");
        }
    }
}
