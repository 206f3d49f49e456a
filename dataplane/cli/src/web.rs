//! The web UI (`web/`, built to `web/dist` by `build.rs`), embedded in the binary and served at
//! `/`: files by path, every other page path answered with `index.html` (client-side routes),
//! while unknown API paths stay JSON 404s in their dialect.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct WebDist;

/// Path prefixes of the relay, whose unknown paths get its dialect's 404.
const RELAY_PREFIXES: &[&str] = &["/v1/", "/v1beta/"];

/// No inline scripts or styles in the build (web/BACKEND_NOTES.md); images in model answers may
/// come from anywhere over http(s).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: http: data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><title>Oblivious</title><h1>The web UI is not built</h1>\
<p>Install Node.js 20+ and npm, then rebuild <code>oblivious</code> (its build runs <code>npm run build</code> in \
<code>web/</code>), or run <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>. The APIs work without it.</p>";

/// The router's fallback: a UI file, the UI's `index.html`, or an API 404.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if RELAY_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
        return oblivious_relay::http::not_found().await;
    }
    if path.starts_with("/api/") || (method != Method::GET && method != Method::HEAD) {
        return not_found(path);
    }
    let file = path.trim_start_matches('/');
    if !file.is_empty()
        && let Some(asset) = WebDist::get(file)
    {
        return asset_response(file, asset);
    }
    // A missing asset is a 404 (a stale tab asking for an old hash must not get HTML as JS).
    if file.starts_with("assets/") {
        return not_found(path);
    }
    match WebDist::get("index.html") {
        Some(index) => asset_response("index.html", index),
        None => page(StatusCode::OK, NOT_BUILT),
    }
}

fn asset_response(file: &str, asset: rust_embed::EmbeddedFile) -> Response {
    let mut response = Body::from(asset.data.into_owned()).into_response();
    let headers = response.headers_mut();
    let mime = asset.metadata.mimetype();
    if let Ok(value) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    // Hashed assets never change; everything else must be revalidated so a deploy shows at once.
    let caching = if file.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if file == "index.html" {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}

fn page(status: StatusCode, html: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A 404 in the product API's shape (the relay's own routes answer their dialects themselves).
fn not_found(path: &str) -> Response {
    let body = serde_json::json!({"error": {"code": "not_found", "message": format!("No route for {path}")}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn page_paths_get_the_ui_and_api_paths_a_json_404() {
        let page = serve(Method::GET, Uri::from_static("/chat/some-session")).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let api = serve(Method::GET, Uri::from_static("/api/v1/nope")).await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert_eq!(api.headers()[header::CONTENT_TYPE], "application/json");
        let stale = serve(Method::GET, Uri::from_static("/assets/gone-123.js")).await;
        assert_eq!(stale.status(), StatusCode::NOT_FOUND, "a missing asset is not answered with HTML");
        assert_eq!(serve(Method::POST, Uri::from_static("/chat")).await.status(), StatusCode::NOT_FOUND);
        let relay = serve(Method::POST, Uri::from_static("/v1/responses")).await;
        assert_eq!(relay.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(relay.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("unknown_url"), "the relay's own 404 shape");
    }
}
