//! The desk's CSS and JavaScript, written here and compiled into the binary
//! (`include_str!`): no build step, no CDN, nothing fetched at run time.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// Where the style sheet is served.
pub const CSS_PATH: &str = "/desk/assets/desk.css";
/// Where the script is served.
pub const JS_PATH: &str = "/desk/assets/desk.js";

/// The style sheet.
pub const CSS: &str = include_str!("static/desk.css");
/// The script: the journal's live rows. Every page works without it (the language
/// switch is a link; the server remembers the choice in a cookie).
pub const JS: &str = include_str!("static/desk.js");

/// `GET /desk/assets/{name}`: the style sheet or the script (public: the sign-in page
/// uses them), cached for an hour.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "desk.css" => (CSS, "text/css; charset=utf-8"),
        "desk.js" => (JS, "text/javascript; charset=utf-8"),
        _ => {
            let mut r = Response::new(axum::body::Body::from("no such asset"));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let mut r = Response::new(axum::body::Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
