//! A county's page (stub, being written).
use super::App;
use super::Shared;
use axum::extract::Path;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

/// `GET /desk/counties/{id}`.
pub async fn page(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    Path(_id): Path<String>,
) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}
