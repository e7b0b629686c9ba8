//! Reading requests: ids from the path, query parameters, JSON bodies and
//! conditional headers. Works for API Gateway HTTP API (v2) and REST API
//! (v1) events, and for the dev server's requests.

use lambda_http::http::header;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};
use crate::fields::{DEFAULT_PAGE_SIZE, MAX_BODY_BYTES, MAX_PAGE_SIZE};
use crate::ids;
use crate::validate;

/// The id in the request path, in canonical form. Taken from the `id` path
/// parameter, else from a `{proxy}` parameter or the path itself (SAM's
/// generated events carry those); the last path segment is the id.
/// A malformed id cannot name anything, so it is a 404.
pub fn path_id(req: &Request, prefix: &str, what: &'static str) -> Result<String, ApiError> {
    let params = req.path_parameters();
    let raw = params
        .first("id")
        .map(str::to_string)
        .or_else(|| params.first("proxy").map(str::to_string))
        .unwrap_or_else(|| req.uri().path().to_string());
    let last = raw
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let decoded = percent_decode(last);
    ids::parse(prefix, &decoded).ok_or(ApiError::NotFound(what))
}

/// Decodes `%XX` escapes; ids are ASCII, so anything else is left as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(h)), Some(Some(l))) = (
                bytes.get(i + 1).map(|b| hex(*b)),
                bytes.get(i + 2).map(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query parameter as sent; empty counts as absent.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    query_param_raw(req, name).filter(|v| !v.is_empty())
}

/// A query parameter as sent, empty included (for filters where an empty
/// value is a mistake to report, not an absence).
pub fn query_param_raw(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_string)
}

/// `page` and `limit` of a list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub limit: u32,
}

impl Paging {
    /// Whether items remain after this page.
    pub fn has_more(&self, total: usize) -> bool {
        (self.page as usize) * (self.limit as usize) < total
    }
}

/// Reads `page` (default 1, at most `u32::MAX`) and `limit` (default 25;
/// any larger positive integer is clamped to 100). Bad values are added to
/// `errors`, naming the parameter, so the caller reports them together with
/// its own.
pub fn paging(req: &Request, errors: &mut Vec<FieldError>) -> Paging {
    let mut positive = |name: &str, default: u32, clamp: Option<u32>| {
        let Some(v) = query_param_raw(req, name) else {
            return default;
        };
        if !v.bytes().all(|b| b.is_ascii_digit()) || v.bytes().all(|b| b == b'0') {
            errors.push(FieldError::new(name, "must be a positive integer"));
            return default;
        }
        match (v.parse::<u32>(), clamp) {
            (Ok(n), Some(max)) => n.min(max),
            (Ok(n), None) => n,
            // Beyond u32, still a positive integer: clamped like any large limit.
            (Err(_), Some(max)) => max,
            (Err(_), None) => {
                errors.push(FieldError::new(
                    name,
                    format!("must be at most {}", u32::MAX),
                ));
                default
            }
        }
    };
    let page = positive("page", 1, None);
    let limit = positive("limit", DEFAULT_PAGE_SIZE, Some(MAX_PAGE_SIZE));
    Paging { page, limit }
}

/// The request body as a JSON object. Bodies over 64 KiB are 413; a
/// `Content-Type` other than JSON is 415 (a missing one is taken as JSON).
pub fn json_body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if essence != "application/json"
            && !(essence.starts_with("application/") && essence.ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    validate::json_object(body)
}

/// The version in `If-Match` (`"3"`, or a bare `3`); `*` and absence mean
/// "any version". If-Match compares strongly (RFC 9110 13.1.1), so a weak
/// tag such as `W/"3"` never matches: 412.
pub fn if_match(req: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    if text.starts_with("W/") {
        return Err(ApiError::PreconditionFailed);
    }
    text.trim_matches('"')
        .parse::<u64>()
        .map(Some)
        .map_err(|_| ApiError::field("If-Match", "must be an ETag returned by GET, such as \"3\""))
}

/// The `ETag` for a version.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;
    use std::collections::HashMap;

    fn get(uri: &str) -> Request {
        let mut req = Request::new(Body::Empty);
        *req.uri_mut() = uri.parse().unwrap();
        req
    }

    fn paging(req: &Request) -> Result<Paging, Vec<FieldError>> {
        let mut errors = Vec::new();
        let p = super::paging(req, &mut errors);
        if errors.is_empty() {
            Ok(p)
        } else {
            Err(errors)
        }
    }

    fn with_query(pairs: &[(&str, &str)]) -> Request {
        let q: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        get("/api/contacts").with_query_string_parameters(q)
    }

    #[test]
    fn id_comes_from_path_parameter_proxy_or_path() {
        let id = "ct_01JZ0000000000000000000000";
        let by_param =
            get("/x").with_path_parameters(HashMap::from([("id".to_string(), id.to_string())]));
        assert_eq!(path_id(&by_param, "ct_", "contact").unwrap(), id);
        let by_proxy = get("/x").with_path_parameters(HashMap::from([(
            "proxy".to_string(),
            format!("/api/contacts/{id}"),
        )]));
        assert_eq!(path_id(&by_proxy, "ct_", "contact").unwrap(), id);
        let by_path = get(&format!("/prod/api/contacts/{id}/"));
        assert_eq!(path_id(&by_path, "ct_", "contact").unwrap(), id);
        assert!(matches!(
            path_id(&get("/api/contacts/email%23a@b.c"), "ct_", "contact"),
            Err(ApiError::NotFound(_))
        ));
    }

    #[test]
    fn paging_defaults_clamps_and_rejects() {
        assert_eq!(
            paging(&with_query(&[])).unwrap(),
            Paging { page: 1, limit: 25 }
        );
        assert_eq!(
            paging(&with_query(&[("limit", "500"), ("page", "3")])).unwrap(),
            Paging {
                page: 3,
                limit: 100
            }
        );
        assert_eq!(
            paging(&with_query(&[("limit", "99999999999")])).unwrap(),
            Paging {
                page: 1,
                limit: 100
            },
            "any positive limit clamps"
        );
        assert!(paging(&with_query(&[("page", "99999999999")])).is_err());
        for bad in ["0", "-1", "abc", "1.5", "+5", " 5", ""] {
            assert!(paging(&with_query(&[("page", bad)])).is_err(), "{bad}");
            assert!(paging(&with_query(&[("limit", bad)])).is_err(), "{bad}");
        }
        let mut errors = Vec::new();
        super::paging(&with_query(&[("page", "0"), ("limit", "x")]), &mut errors);
        assert_eq!(errors.len(), 2, "both named at once");
        assert!(Paging { page: 1, limit: 25 }.has_more(26));
        assert!(!Paging { page: 2, limit: 25 }.has_more(50));
    }

    #[test]
    fn body_checks_type_and_size() {
        let mut req = Request::new(Body::Text("{}".into()));
        req.headers_mut()
            .insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(matches!(
            json_body(&req),
            Err(ApiError::UnsupportedMediaType)
        ));
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(json_body(&req).is_ok());
        let big = Request::new(Body::Text(format!(
            "{{\"notes\":\"{}\"}}",
            "x".repeat(MAX_BODY_BYTES)
        )));
        assert!(matches!(json_body(&big), Err(ApiError::PayloadTooLarge)));
    }

    #[test]
    fn if_match_forms() {
        let mut req = get("/");
        assert_eq!(if_match(&req).unwrap(), None);
        for (v, want) in [("\"3\"", Some(3)), ("5", Some(5)), ("*", None)] {
            req.headers_mut()
                .insert(header::IF_MATCH, v.parse().unwrap());
            assert_eq!(if_match(&req).unwrap(), want, "{v}");
        }
        req.headers_mut()
            .insert(header::IF_MATCH, "W/\"4\"".parse().unwrap());
        assert!(matches!(if_match(&req), Err(ApiError::PreconditionFailed)));
        req.headers_mut()
            .insert(header::IF_MATCH, "\"abc\"".parse().unwrap());
        assert!(matches!(if_match(&req), Err(ApiError::Validation(_))));
    }
}
