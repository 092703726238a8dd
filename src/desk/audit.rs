//! 审计核验 (stub, being written).
use super::App;
use super::Shared;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

/// `GET /desk/audit`.
pub async fn page(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}

/// `GET /desk/audit/export`.
pub async fn export(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}
