//! The one error type of the HTTP API, rendered as `{"error": code, "message": text}`.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::model::RowsError;

/// nginx's "client closed request": the status recorded for a request whose client
/// went away before it could be answered (nobody receives the response).
pub const CLIENT_CLOSED_REQUEST: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => panic!("499 is a valid status code"),
};

/// Seconds a shed or draining client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;

/// Every way an API request can fail. [`ApiError::code`] is the stable,
/// machine-readable name; the `Display` text is for people.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body does not match the expected shape: {0}")]
    InvalidBody(String),
    #[error("send either \"features\" (one row) or \"instances\" (a batch of rows), not both")]
    AmbiguousInput,
    #[error("row {row} has {got} features, the model expects {expected}")]
    WrongFeatureCount {
        row: usize,
        expected: usize,
        got: usize,
    },
    #[error("row {row} names feature {name:?}, which the model does not have (it has: {known})")]
    UnknownFeature {
        row: usize,
        name: String,
        known: String,
    },
    #[error("row {row} lacks feature {name:?}")]
    MissingFeature { row: usize, name: String },
    #[error("row {row} gives feature {name:?} twice")]
    DuplicateFeature { row: usize, name: String },
    #[error("feature {column} of row {row} is not a finite 32-bit number")]
    NonFiniteFeature { row: usize, column: usize },
    #[error("\"instances\" is empty: send at least one row")]
    EmptyBatch,
    #[error("\"instances\" has {got} rows, at most {max} are accepted per request")]
    BatchTooLarge { max: usize, got: usize },
    #[error("send the body as JSON with the header content-type: application/json ({0})")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than the {limit}-byte limit")]
    PayloadTooLarge { limit: usize },
    #[error("the request body did not arrive within {}", humantime::format_duration(*.0))]
    BodyTimeout(Duration),
    #[error("the client closed the connection before the request body arrived")]
    ClientClosed,
    #[error("no route for {path}; see GET / for the endpoints")]
    NotFound { path: String },
    #[error("method {method} is not allowed here; see GET / for the endpoints")]
    MethodNotAllowed { method: String },
    #[error("the server is at its limit of {limit} requests in flight; retry after {RETRY_AFTER_SECS} s")]
    Overloaded { limit: usize },
    #[error("the request took longer than {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("the server is not ready: {0}")]
    NotReady(&'static str),
    #[error("fault injected by the x-fault header (status {})", .0.as_u16())]
    InjectedFault(StatusCode),
    #[error("the x-fault header is invalid: {0}")]
    InvalidFaultHeader(String),
    #[error("the server hit an internal error while handling the request")]
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidFaultHeader(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidBody(_)
            | ApiError::AmbiguousInput
            | ApiError::WrongFeatureCount { .. }
            | ApiError::UnknownFeature { .. }
            | ApiError::MissingFeature { .. }
            | ApiError::DuplicateFeature { .. }
            | ApiError::NonFiniteFeature { .. }
            | ApiError::EmptyBatch
            | ApiError::BatchTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::ClientClosed => CLIENT_CLOSED_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Overloaded { .. } | ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::InjectedFault(status) => *status,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidBody(_) => "invalid_body",
            ApiError::AmbiguousInput => "ambiguous_input",
            ApiError::WrongFeatureCount { .. } => "wrong_feature_count",
            ApiError::UnknownFeature { .. } => "unknown_feature",
            ApiError::MissingFeature { .. } => "missing_feature",
            ApiError::DuplicateFeature { .. } => "duplicate_feature",
            ApiError::NonFiniteFeature { .. } => "non_finite_feature",
            ApiError::EmptyBatch => "empty_batch",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::ClientClosed => "client_closed_request",
            ApiError::NotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Overloaded { .. } => "overloaded",
            ApiError::Timeout(_) => "timeout",
            ApiError::NotReady(_) => "not_ready",
            ApiError::InjectedFault(_) => "injected_fault",
            ApiError::InvalidFaultHeader(_) => "invalid_fault_header",
            ApiError::Internal => "internal_error",
        }
    }

    /// Errors after which the rest of the request body was not read: the
    /// connection cannot carry another request and is closed after the answer.
    fn closes_connection(&self) -> bool {
        matches!(
            self,
            ApiError::PayloadTooLarge { .. } | ApiError::BodyTimeout(_) | ApiError::ClientClosed
        )
    }
}

impl From<RowsError> for ApiError {
    fn from(e: RowsError) -> Self {
        match e {
            RowsError::WrongLength { row, expected, got } => {
                ApiError::WrongFeatureCount { row, expected, got }
            }
            RowsError::NonFinite { row, column } => ApiError::NonFiniteFeature { row, column },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Overloaded { .. } | ApiError::NotReady(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.closes_connection() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
