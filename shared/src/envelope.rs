//! The response envelope every route answers with:
//! `{"ok":true,"data":…}` or `{"ok":false,"error":{"code","message","details"}}`.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// A successful answer: status, `data`, and any extra headers (such as `ETag`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub data: Value,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl Reply {
    /// 200 with `data`.
    pub fn ok(data: impl Serialize) -> Self {
        Self::with_status(StatusCode::OK, data)
    }

    /// 201 with `data`.
    pub fn created(data: impl Serialize) -> Self {
        Self::with_status(StatusCode::CREATED, data)
    }

    fn with_status(status: StatusCode, data: impl Serialize) -> Self {
        // Serialising our own plain data types cannot fail.
        let data = serde_json::to_value(data).unwrap_or(Value::Null);
        Reply {
            status,
            data,
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The HTTP response carrying `{"ok":true,"data":…}`.
    pub fn into_response(self) -> Response<Body> {
        let mut resp = json_response(self.status, &json!({ "ok": true, "data": self.data }));
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().append(name, v);
            }
        }
        resp
    }
}

/// The HTTP response carrying `{"ok":false,"error":{…}}`.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<&Value>,
) -> Response<Body> {
    let mut error = json!({ "code": code, "message": message });
    if let Some(details) = details {
        error["details"] = details.clone();
    }
    json_response(status, &json!({ "ok": false, "error": error }))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(body.to_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(resp: &Response<Body>) -> Value {
        match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn ok_envelope_wraps_data() {
        let resp = Reply::created(json!({"id": "ct_1"})).into_response();
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body_json(&resp),
            json!({"ok": true, "data": {"id": "ct_1"}})
        );
    }

    #[test]
    fn error_envelope_has_code_message_and_optional_details() {
        let resp = error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "contact not found",
            None,
        );
        assert_eq!(
            body_json(&resp),
            json!({"ok": false, "error": {"code": "not_found", "message": "contact not found"}})
        );
        let details = json!({"id": "ct_x"});
        let resp = error_response(
            StatusCode::CONFLICT,
            "duplicate_email",
            "taken",
            Some(&details),
        );
        assert_eq!(body_json(&resp)["error"]["details"], details);
    }

    #[test]
    fn reply_headers_are_sent() {
        let resp = Reply::ok(json!({}))
            .header(header::ETAG, "\"3\"")
            .into_response();
        assert_eq!(resp.headers()[header::ETAG], "\"3\"");
    }
}
