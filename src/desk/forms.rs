//! 业务录入 (stub, being written).
use super::App;
use super::Shared;
use axum::extract::Path;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

/// `GET /desk/forms`.
pub async fn index(Shared(app): App, headers: HeaderMap, uri: Uri) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}

/// `GET /desk/forms/{kind}`.
pub async fn show(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    Path(_k): Path<String>,
) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}

/// `POST /desk/forms/{kind}`.
pub async fn submit(
    Shared(app): App,
    headers: HeaderMap,
    uri: Uri,
    Path(_k): Path<String>,
) -> Response {
    match super::signed_in(&app, &headers, &uri) {
        Ok(_) => super::see_other("/"),
        Err(r) => r,
    }
}
