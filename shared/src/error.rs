//! The API's one error type. Each variant's status, code and envelope are
//! decided here and nowhere else.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::envelope::error_response;

/// Seconds a client is told to wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// One rejected input field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields failed validation; nothing was written.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The request could not be read at all (malformed JSON, not an object).
    #[error("{0}")]
    BadRequest(String),
    /// Missing, unknown or revoked API key: all look the same to the caller.
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The route exists but not with this method; `allow` lists the methods it takes.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    /// The write would break a uniqueness rule; `details` names what it clashes with.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// An earlier request with the same `Idempotency-Key` still holds it;
    /// the client may retry after `retry_after` seconds.
    #[error(
        "a request with this Idempotency-Key is still being processed; retry after Retry-After seconds"
    )]
    InProgress { retry_after: u32 },
    /// An `Idempotency-Key` was reused with a different body.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed since the given version")]
    PreconditionFailed,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// DynamoDB throttled or failed and the SDK's retries ran out.
    #[error("the service is temporarily unavailable, retry later")]
    Unavailable,
    /// A bug or an unexpected failure; logged, never shown to the client.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::InProgress { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::InProgress { .. } => "request_in_progress",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Validation(fields) => match fields.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                many => format!(
                    "{} fields are invalid: {}",
                    many.len(),
                    many.iter()
                        .map(|f| f.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            other => other.to_string(),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::Validation(fields) => Some(json!({ "fields": fields })),
            ApiError::Conflict { details, .. } => details.clone(),
            _ => None,
        }
    }

    /// The error envelope. Internal errors are logged here and answered
    /// without their text.
    pub fn into_response(self) -> Response<Body> {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(cause = %cause, "internal error");
        }
        let mut resp = error_response(
            self.status(),
            self.code(),
            &self.message(),
            self.details().as_ref(),
        );
        match &self {
            ApiError::Unavailable => {
                resp.headers_mut().insert(
                    lambda_http::http::header::RETRY_AFTER,
                    RETRY_AFTER_SECONDS.into(),
                );
            }
            ApiError::InProgress { retry_after } => {
                resp.headers_mut().insert(
                    lambda_http::http::header::RETRY_AFTER,
                    (*retry_after).max(1).into(),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = lambda_http::http::HeaderValue::from_str(allow) {
                    resp.headers_mut()
                        .insert(lambda_http::http::header::ALLOW, v);
                }
            }
            _ => {}
        }
        resp
    }
}

/// DynamoDB error codes that mean "busy or broken for now, try again".
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    // A single-item write met an item a transaction was changing.
    "TransactionConflictException",
];

impl<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug> From<SdkError<E, R>>
    for ApiError
{
    /// The SDK has already retried throttles and 5xx with backoff; what is
    /// left of them becomes 503, everything else is a bug (500).
    fn from(err: SdkError<E, R>) -> Self {
        match &err {
            // Only the kind is logged: a response the SDK could not parse
            // carries its raw body, which may hold contact data.
            SdkError::TimeoutError(_) => {
                tracing::warn!(kind = "timeout", "DynamoDB unreachable");
                ApiError::Unavailable
            }
            SdkError::DispatchFailure(_) => {
                tracing::warn!(kind = "dispatch failure", "DynamoDB unreachable");
                ApiError::Unavailable
            }
            SdkError::ResponseError(_) => {
                tracing::warn!(kind = "unreadable response", "DynamoDB unreachable");
                ApiError::Unavailable
            }
            SdkError::ServiceError(se)
                if se
                    .err()
                    .code()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c)) =>
            {
                tracing::warn!(code = se.err().code(), "DynamoDB busy");
                ApiError::Unavailable
            }
            _ => ApiError::Internal(format!(
                "DynamoDB: {}",
                err.as_service_error()
                    .and_then(|e| e.code())
                    .unwrap_or("unknown error")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resp: &Response<Body>) -> Value {
        match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => panic!("not text"),
        }
    }

    #[test]
    fn each_variant_maps_to_its_status() {
        let cases = [
            (ApiError::field("email", "bad"), 400),
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::NotFound("contact"), 404),
            (
                ApiError::MethodNotAllowed {
                    allow: "GET".into(),
                },
                405,
            ),
            (
                ApiError::Conflict {
                    code: "duplicate_email",
                    message: "m".into(),
                    details: None,
                },
                409,
            ),
            (ApiError::PreconditionFailed, 412),
            (ApiError::IdempotencyMismatch, 422),
            (ApiError::PayloadTooLarge, 413),
            (ApiError::UnsupportedMediaType, 415),
            (ApiError::Unavailable, 503),
            (ApiError::InProgress { retry_after: 3 }, 409),
            (ApiError::Internal("boom".into()), 500),
        ];
        for (err, status) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.into_response().status().as_u16(), status);
        }
    }

    #[test]
    fn validation_error_names_every_field() {
        let err = ApiError::Validation(vec![
            FieldError::new("email", "must be a valid email address"),
            FieldError::new("portal_role", "must be one of client_admin, client_viewer"),
        ]);
        let b = body(&err.into_response());
        assert_eq!(b["ok"], false);
        assert_eq!(b["error"]["code"], "validation_failed");
        assert_eq!(
            b["error"]["message"],
            "2 fields are invalid: email, portal_role"
        );
        assert_eq!(b["error"]["details"]["fields"][1]["field"], "portal_role");
    }

    #[test]
    fn internal_error_hides_its_cause() {
        let b = body(&ApiError::Internal("secret table name".into()).into_response());
        assert_eq!(b["error"]["message"], "internal error");
        assert!(!b.to_string().contains("secret"));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let resp = ApiError::Unavailable.into_response();
        assert_eq!(resp.headers()["retry-after"], "1");
    }
}
