//! The service's one error shape (SPEC §7) and the table from failures to statuses.
//!
//! Every refusal the service sends — including those for requests axum or hyper
//! would otherwise answer themselves (unknown route, wrong method) — is
//! `{"error":{"code","message","index"?,"field"?}}` with one of these statuses:
//!
//! | status | code | when |
//! |---|---|---|
//! | 400 | `malformed_json`, `bad_request` | the body is not JSON (or not UTF-8); a query parameter or header is wrong |
//! | 401 | `unauthorized` | no `Authorization: Bearer` token, or an unknown one |
//! | 403 | `forbidden` | the role may not do this |
//! | 408 | `request_timeout` | the body did not arrive within the body-read timeout (the connection is closed) |
//! | 404 | `not_found` | unknown route or unknown county |
//! | 405 | `method_not_allowed` | a known path asked with another method (the `Allow` header names the methods it answers; issue 23) |
//! | 409 | `conflict` | idempotency key reused for another event, expected head moved |
//! | 413 | `too_large` | body over 1 MiB, or a batch over 10,000 events |
//! | 415 | `unsupported_media_type` | a POST body that is not `application/json` |
//! | 422 | `invalid_event` | an event breaks a rule or is malformed (with `index`, `field`) |
//! | 503 | `unavailable` | storage failed or the writer has stopped; nothing was written; or the most event streams are open (with `Retry-After`) |
//!
//! Guarantee: no request input maps to a 5xx; 503 only reports the server's own
//! storage or capacity, never the request.

use super::answers::{ErrorBody, ErrorDetail};
use crate::event::EventError;
use crate::log::{AppendError, StoreError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A refused request: status, machine-readable code, message, and for invalid
/// events the batch index and field to blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short snake_case code.
    pub code: &'static str,
    /// What is wrong, in words for a person.
    pub message: String,
    /// 0-based index of the event in its batch, when one event is to blame.
    pub index: Option<usize>,
    /// The field (or query parameter / header) to blame.
    pub field: Option<String>,
    /// Extra headers (`WWW-Authenticate`, `Allow`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            index: None,
            field: None,
            headers: Vec::new(),
        }
    }

    /// 400: the body is not valid JSON.
    pub fn malformed_json(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    /// 400: a wrong query parameter, header or path segment, named by `field`.
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message);
        e.field = Some(field.into());
        e
    }

    /// 401, with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
        e.headers.push((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"sanbao\""),
        ));
        e
    }

    /// 403: the role may not do this.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: unknown route or county.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 for a known path asked with a method it does not answer (HTTP's rule; issue
    /// 23 refines SPEC §7, whose 404 stays for unknown paths); the message and the
    /// `Allow` header name the methods it does answer.
    pub fn method_not_allowed(allow: &str) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this path answers {allow} only"),
        );
        if let Ok(v) = HeaderValue::from_str(allow) {
            e.headers.push((header::ALLOW, v));
        }
        e
    }

    /// 408: the body did not arrive in time; the connection is closed after it.
    pub fn request_timeout(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message);
        e.headers
            .push((header::CONNECTION, HeaderValue::from_static("close")));
        e
    }

    /// Adds `Retry-After: SECONDS` (a 503 for capacity, not for storage).
    pub fn retry_after(mut self, seconds: u32) -> ApiError {
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            self.headers.push((header::RETRY_AFTER, v));
        }
        self
    }

    /// 409: idempotency or expected-head conflict.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413: body or batch too large.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 415: the body is not declared as JSON.
    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 422: an invalid event, with its index in the batch and the field to blame.
    pub fn invalid(index: Option<usize>, e: &EventError) -> ApiError {
        let mut err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_event",
            match index {
                Some(i) => format!("event {i}: {e}"),
                None => e.to_string(),
            },
        );
        err.index = index;
        err.field = e.field.clone();
        err
    }

    /// 503: storage failed or the writer stopped; nothing was written.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// Adds the batch index to blame.
    pub fn at(mut self, index: usize) -> ApiError {
        self.index = Some(index);
        self
    }

    /// The JSON body `{"error":{…}}` ([`ErrorBody`]), its message on one line.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                field: self.field.as_deref(),
                index: self.index,
                message: self.message.replace(['\n', '\r'], " "),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = super::json_response(self.status, &self.body());
        for (k, v) in self.headers {
            r.headers_mut().insert(k, v);
        }
        r
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> ApiError {
        match &e {
            AppendError::Invalid { index, error } => ApiError::invalid(*index, error),
            AppendError::Conflict(m, _) => ApiError::conflict(m.clone()),
            AppendError::Storage(m) => ApiError::unavailable(m.clone()),
            AppendError::Closed => {
                ApiError::unavailable("the service is shutting down; nothing was recorded")
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::unavailable(e.to_string())
    }
}
