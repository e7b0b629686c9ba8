//! Turns a JSON request body into checked field values, driven by the
//! field tables in [`crate::fields`]. Every problem found is reported at
//! once, each naming its field.

use serde_json::{Map, Number, Value};

use crate::error::{ApiError, FieldError};
use crate::fields::{
    Field, Kind, MAX_EMAIL_CHARS, MAX_ENRICHMENT_DATA_BYTES, MAX_TAG_CHARS, MAX_TAGS,
    MAX_URL_CHARS, READ_ONLY,
};
use crate::ids;

/// A checked, normalised field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Number(Number),
    Object(Map<String, Value>),
}

impl FieldValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as it appears in a JSON response.
    pub fn to_json(&self) -> Value {
        match self {
            FieldValue::Text(s) => Value::String(s.clone()),
            FieldValue::Number(n) => Value::Number(n.clone()),
            FieldValue::Object(m) => Value::Object(m.clone()),
        }
    }
}

/// Whether the body creates a resource or patches one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Patch,
}

/// The fields a request sets, in table order. `None` clears a field (PATCH
/// with `null` or an empty string); on create, cleared fields are dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub fields: Vec<(&'static Field, Option<FieldValue>)>,
}

impl Input {
    /// `Some(None)` when the request clears `name`, `None` when it does not mention it.
    pub fn get(&self, name: &str) -> Option<Option<&FieldValue>> {
        self.fields
            .iter()
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v.as_ref())
    }

    /// The text the request sets `name` to, if any.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).flatten().and_then(FieldValue::as_text)
    }

    pub fn mentions(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Parses a body that must be a JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "request body is required: a JSON object".into(),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// Checks every key of `body` against `table`: unknown and read-only keys,
/// fields `mode` does not accept, and each value's kind and limits.
pub fn fields(
    body: Map<String, Value>,
    table: &'static [Field],
    mode: Mode,
) -> Result<Input, ApiError> {
    let mut errors = Vec::new();
    let mut input = Input::default();
    for (key, value) in body {
        let Some(field) = table.iter().find(|f| f.name == key) else {
            let why = if READ_ONLY.contains(&key.as_str()) {
                "is read-only"
            } else {
                "is not a known field"
            };
            errors.push(FieldError::new(truncate(&key), why));
            continue;
        };
        if mode == Mode::Create && !field.on_create {
            errors.push(FieldError::new(
                field.name,
                "cannot be set on create; set it with PATCH",
            ));
            continue;
        }
        match check(field, value) {
            Ok(None) if mode == Mode::Create => {}
            Ok(v) => input.fields.push((field, v)),
            Err(message) => errors.push(FieldError::new(field.name, message)),
        }
    }
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        return Err(ApiError::Validation(errors));
    }
    let order = |f: &Field| table.iter().position(|t| t.name == f.name);
    input.fields.sort_by_key(|(f, _)| order(f));
    Ok(input)
}

/// Unknown keys are echoed back; keep them short.
fn truncate(key: &str) -> String {
    key.chars().take(64).collect()
}

/// Checks one value. `Ok(None)` means "clear this field".
pub fn check(field: &Field, value: Value) -> Result<Option<FieldValue>, String> {
    if value.is_null() {
        return Ok(None);
    }
    match field.kind {
        Kind::Flag => match value.as_i64() {
            Some(n @ (0 | 1)) => Ok(Some(FieldValue::Number(n.into()))),
            _ => Err("must be 0 or 1".into()),
        },
        Kind::Score => match value {
            Value::Number(n) if n.as_f64().is_some_and(|f| (0.0..=100.0).contains(&f)) => {
                Ok(Some(FieldValue::Number(n)))
            }
            _ => Err("must be a number from 0 to 100".into()),
        },
        Kind::JsonObject => match value {
            Value::Object(map) => {
                let size = serde_json::to_vec(&map)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if size > MAX_ENRICHMENT_DATA_BYTES {
                    return Err(format!(
                        "must be at most {MAX_ENRICHMENT_DATA_BYTES} bytes of JSON"
                    ));
                }
                Ok(Some(FieldValue::Object(map)))
            }
            _ => Err("must be a JSON object".into()),
        },
        Kind::Tags => match value {
            Value::String(s) => tags(&s),
            _ => Err("must be a string of comma-separated tags".into()),
        },
        _ => match value {
            Value::String(s) => {
                let s = s.trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    text(field, s).map(|t| Some(FieldValue::Text(t)))
                }
            }
            _ => Err("must be a string".into()),
        },
    }
}

/// Checks a non-empty, trimmed string for a text-like kind.
fn text(field: &Field, s: &str) -> Result<String, String> {
    let chars = s.chars().count();
    match field.kind {
        Kind::Text { max } => {
            if chars > max {
                Err(format!("must be at most {max} characters"))
            } else if s
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                Err("must not contain control characters".into())
            } else {
                Ok(s.to_string())
            }
        }
        Kind::Email => {
            if chars <= MAX_EMAIL_CHARS && is_email(s) {
                Ok(s.to_string())
            } else {
                Err("must be a valid email address".into())
            }
        }
        Kind::Url => {
            if chars <= MAX_URL_CHARS && is_web_url(s) {
                Ok(s.to_string())
            } else {
                Err(format!(
                    "must be an http or https URL of at most {MAX_URL_CHARS} characters"
                ))
            }
        }
        Kind::OneOf(allowed) => {
            if allowed.contains(&s) {
                Ok(s.to_string())
            } else {
                Err(format!("must be one of {}", allowed.join(", ")))
            }
        }
        Kind::CompanyId => {
            ids::parse(ids::COMPANY_PREFIX, s).ok_or_else(|| "must be a company id (co_…)".into())
        }
        Kind::Domain => {
            let d = s.to_ascii_lowercase();
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            };
            if d.len() <= 253 && d.contains('.') && d.split('.').all(label_ok) {
                Ok(d)
            } else {
                Err("must be a domain name such as acme.com".into())
            }
        }
        Kind::Timestamp => {
            use aws_smithy_types::date_time::{DateTime, Format};
            DateTime::from_str(s, Format::DateTime)
                .map(|_| s.to_string())
                .map_err(|_| "must be an RFC 3339 date-time, such as 2026-01-31T09:30:00Z".into())
        }
        Kind::Flag | Kind::Score | Kind::Tags | Kind::JsonObject => unreachable!("not a text kind"),
    }
}

/// An address a mail server would take: RFC 5322 syntax, and a domain with a dot.
pub fn is_email(s: &str) -> bool {
    let options = email_address::Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    !s.contains(char::is_whitespace)
        && email_address::EmailAddress::parse_with_options(s, options).is_ok()
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Normalises comma-separated tags: trimmed, empties dropped, duplicates
/// (ignoring case) removed, joined with ",".
fn tags(raw: &str) -> Result<Option<FieldValue>, String> {
    let mut out: Vec<&str> = Vec::new();
    for tag in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(format!(
                "each tag must be at most {MAX_TAG_CHARS} characters"
            ));
        }
        if !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    Ok((!out.is_empty()).then(|| FieldValue::Text(out.join(","))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{COMPANY_FIELDS, CONTACT_FIELDS};
    use serde_json::json;

    fn parse(body: Value, mode: Mode) -> Result<Input, ApiError> {
        fields(body.as_object().unwrap().clone(), CONTACT_FIELDS, mode)
    }

    fn field_errors(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(f) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_the_spec_create_fields() {
        let input = parse(
            json!({"email": " Jane@Acme.com ", "first_name": "Jane", "contact_type": "client",
                   "portal_access": 1, "portal_role": "client_admin", "linkedin_url": "https://linkedin.com/in/jane",
                   "tags": "vip, east ,VIP,", "company_id": "co_01jz0000000000000000000000"}),
            Mode::Create,
        )
        .unwrap();
        assert_eq!(input.text("email"), Some("Jane@Acme.com"));
        assert_eq!(input.text("tags"), Some("vip,east"));
        assert_eq!(
            input.text("company_id"),
            Some("co_01JZ0000000000000000000000")
        );
        assert_eq!(
            input.get("portal_access"),
            Some(Some(&FieldValue::Number(1.into())))
        );
        // Table order, not body order.
        assert_eq!(input.fields[0].0.name, "email");
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = parse(
            json!({"email": "not-an-email", "contact_type": "boss", "portal_access": 2,
                   "portal_role": "owner", "linkedin_url": "javascript:alert(1)", "first_name": 7}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(
            field_errors(err),
            [
                "contact_type",
                "email",
                "first_name",
                "linkedin_url",
                "portal_access",
                "portal_role"
            ]
        );
    }

    #[test]
    fn unknown_and_read_only_fields_are_rejected() {
        let err = parse(
            json!({"email": "a@b.co", "id": "ct_x", "created_at": "x", "is_admin": true}),
            Mode::Patch,
        )
        .unwrap_err();
        let ApiError::Validation(errs) = err else {
            panic!()
        };
        assert_eq!(errs[0], FieldError::new("created_at", "is read-only"));
        assert_eq!(errs[1], FieldError::new("id", "is read-only"));
        assert_eq!(errs[2], FieldError::new("is_admin", "is not a known field"));
    }

    #[test]
    fn patch_only_fields_are_refused_on_create() {
        let err = parse(
            json!({"email": "a@b.co", "engagement_score": 5}),
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(field_errors(err), ["engagement_score"]);
        assert!(parse(json!({"engagement_score": 55.5}), Mode::Patch).is_ok());
    }

    #[test]
    fn null_and_empty_string_clear_on_patch_and_vanish_on_create() {
        let patch = parse(json!({"phone": null, "title": "  "}), Mode::Patch).unwrap();
        assert_eq!(patch.get("phone"), Some(None));
        assert_eq!(patch.get("title"), Some(None));
        let create = parse(
            json!({"email": "a@b.co", "phone": null, "title": ""}),
            Mode::Create,
        )
        .unwrap();
        assert!(!create.mentions("phone"));
        assert!(!create.mentions("title"));
    }

    #[test]
    fn limits_are_enforced() {
        let long = "x".repeat(201);
        let err = parse(json!({"first_name": long}), Mode::Patch).unwrap_err();
        assert_eq!(field_errors(err), ["first_name"]);
        let many_tags = (0..51)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse(json!({"tags": many_tags}), Mode::Patch).is_err());
        let big = json!({"blob": "y".repeat(MAX_ENRICHMENT_DATA_BYTES)});
        assert!(parse(json!({"enrichment_data": big}), Mode::Patch).is_err());
        assert!(parse(json!({"engagement_score": 101}), Mode::Patch).is_err());
        assert!(parse(json!({"enrichment_data": {"n": 1e200, "deep": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}}), Mode::Patch).is_ok());
        assert!(parse(json!({"last_engagement_at": "yesterday"}), Mode::Patch).is_err());
        assert!(
            parse(
                json!({"last_engagement_at": "2026-01-31T09:30:00Z"}),
                Mode::Patch
            )
            .is_ok()
        );
    }

    #[test]
    fn email_syntax() {
        for ok in ["jane@acme.com", "j.smith+crm@mail.acme.co.uk"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "jane",
            "jane@",
            "@acme.com",
            "jane@acme",
            "jane smith@acme.com",
            "Jane <jane@acme.com>",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn domains_are_lowercased_and_checked() {
        let table = COMPANY_FIELDS;
        let ok = fields(
            json!({"name": "Acme", "domain": "Acme.COM"})
                .as_object()
                .unwrap()
                .clone(),
            table,
            Mode::Create,
        )
        .unwrap();
        assert_eq!(ok.text("domain"), Some("acme.com"));
        for bad in ["acme", "https://acme.com", "-acme.com", "ac me.com"] {
            assert!(
                fields(
                    json!({"domain": bad}).as_object().unwrap().clone(),
                    table,
                    Mode::Create
                )
                .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn company_fields_use_the_same_rules() {
        let err = fields(
            json!({"name": 5, "owner": "x"})
                .as_object()
                .unwrap()
                .clone(),
            COMPANY_FIELDS,
            Mode::Create,
        )
        .unwrap_err();
        assert_eq!(field_errors(err), ["name", "owner"]);
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        assert!(matches!(json_object(b"{"), Err(ApiError::BadRequest(_))));
        assert!(matches!(json_object(b"[1]"), Err(ApiError::BadRequest(_))));
        assert!(matches!(json_object(b"  "), Err(ApiError::BadRequest(_))));
        assert!(json_object(br#"{"a":1}"#).is_ok());
    }
}
