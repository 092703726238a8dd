//! 事件流水 (stub, being written).
use super::App;
use super::Shared;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

/// `GET /desk/journal`.
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}

/// `GET /desk/journal/stream`.
pub async fn stream(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}
