//! The page for people (`web/`): `GET /` is its `index.html`, `GET /app/{*file}`
//! its scripts, styles and vendored libraries. All public: the page holds no
//! data; everything it shows it reads with the signed-in user's own signed
//! requests, like any other client.
//!
//! Served with a Content-Security-Policy that allows only this node's own
//! scripts, styles and connections (no inline script, no third party), and
//! `blob:`/`data:` images so a record's picture can be shown.

use crate::api::ApiError;
use axum::extract::Path;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use phr_web::Assets;
use std::sync::Arc;

/// Where the page comes from: the folder named by `PHR_WEB_DIR` (for working
/// on the page without rebuilding), else the copy compiled into the binary.
pub fn assets() -> anyhow::Result<Arc<Assets>> {
    match std::env::var_os("PHR_WEB_DIR") {
        Some(dir) => {
            let a = Assets::from_dir(std::path::Path::new(&dir))?;
            tracing::warn!(dir = %std::path::Path::new(&dir).display(), "serving the page from disk (PHR_WEB_DIR)");
            Ok(Arc::new(a))
        }
        None => Ok(Arc::new(Assets::embedded())),
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `index.html`.
pub async fn index(assets: Arc<Assets>) -> Response {
    serve(&assets, "index.html")
}

/// A file of the page.
pub async fn file(assets: Arc<Assets>, Path(path): Path<String>) -> Response {
    serve(&assets, &path)
}

fn serve(assets: &Assets, path: &str) -> Response {
    let Some(a) = assets.get(path) else {
        return ApiError::not_found("no such file of the page").into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(a.content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        // Revalidate every time, so a node upgraded with a new page serves it at once.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, a.bytes.into_owned()).into_response()
}
