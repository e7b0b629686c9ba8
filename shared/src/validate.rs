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
        // Rounded to 6 decimals: DynamoDB cannot store non-zero numbers
        // below 1e-130, and no score needs that precision.
        Kind::Score => match value.as_f64() {
            Some(f) if (0.0..=100.0).contains(&f) => {
                let rounded = (f * 1e6).round() / 1e6;
                let n = if rounded.fract() == 0.0 {
                    Number::from(rounded as i64)
                } else {
                    Number::from_f64(rounded).unwrap_or_else(|| Number::from(0))
                };
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
        // Values are taken as sent (never trimmed), so what the API accepts
        // is exactly what the OpenAPI patterns describe. An empty string
        // clears free text; typed values must be valid or null.
        _ => match value {
            Value::String(s) if s.is_empty() && matches!(field.kind, Kind::Text { .. }) => Ok(None),
            Value::String(s) => text(field, &s).map(|t| Some(FieldValue::Text(t))),
            _ => Err("must be a string".into()),
        },
    }
}

/// Checks a string for a text-like kind.
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
            if is_rfc3339(s) {
                Ok(s.to_string())
            } else {
                Err("must be an RFC 3339 date-time, such as 2026-01-31T09:30:00Z".into())
            }
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

/// `http(s)://host[:port][/…|?…|#…]`: an ASCII host name or address, a
/// port up to 65535, and no whitespace or control characters anywhere. The
/// OpenAPI description states the same rule as a pattern.
fn is_web_url(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    host_ok && port_ok && !tail.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T`/`Z` in
/// either case, with real calendar dates (leap second allowed).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if !((1..=days).contains(&d) && h <= 23 && mi <= 59 && sec <= 60) {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b':')
                && num(i + 1, 2).is_some_and(|oh| oh <= 23)
                && num(i + 4, 2).is_some_and(|om| om <= 59)
        }
        _ => false,
    }
}

/// Normalises comma-separated tags: trimmed, empties dropped, duplicates
/// (ignoring case) removed, joined with ",".
fn tags(raw: &str) -> Result<Option<FieldValue>, String> {
    let segments: Vec<&str> = raw.split(',').collect();
    if segments.len() > MAX_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    if segments.iter().any(|t| t.chars().count() > MAX_TAG_CHARS) {
        return Err(format!(
            "each tag must be at most {MAX_TAG_CHARS} characters"
        ));
    }
    let mut out: Vec<&str> = Vec::new();
    for tag in segments
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if !out.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            out.push(tag);
        }
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
            json!({"email": "Jane@Acme.com", "first_name": "Jane", "contact_type": "client",
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
        let patch = parse(json!({"phone": null, "title": ""}), Mode::Patch).unwrap();
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
        let tiny = parse(json!({"engagement_score": 1e-200}), Mode::Patch).unwrap();
        assert_eq!(
            tiny.get("engagement_score"),
            Some(Some(&FieldValue::Number(0.into())))
        );
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
    fn typed_values_are_not_trimmed_or_emptied() {
        for body in [
            json!({"email": " a@b.co"}),
            json!({"email": ""}),
            json!({"contact_type": ""}),
            json!({"linkedin_url": " https://x.io"}),
        ] {
            assert!(parse(body.clone(), Mode::Patch).is_err(), "{body}");
        }
    }

    #[test]
    fn urls_follow_the_documented_rule() {
        for ok in [
            "https://www.linkedin.com/in/jane",
            "http://0",
            "https://a.b:8080/p?q=1#f",
            "https://x.io/ünïcode",
        ] {
            assert!(is_web_url(ok), "{ok}");
        }
        for bad in [
            "ftp://x",
            "https://",
            "https://a b",
            "https://x.io/\u{1}",
            "https://a:99999",
            "https://a<b",
            "javascript:alert(1)",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn rfc3339_date_times() {
        for ok in [
            "2026-01-31T09:30:00Z",
            "2026-01-31t09:30:00.5+05:30",
            "2024-02-29T23:59:60-00:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-01-31 09:30:00Z",
            "2026-01-31T24:00:00Z",
            "2026-01-31T09:30:00",
            "2026-01-31T09:30:00.Z",
            "2026-13-01T00:00:00Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn tags_rules_match_the_schema_pattern() {
        assert!(tags(&",".repeat(50)).is_err(), "51 segments");
        assert!(
            tags(&format!(" {} ", "x".repeat(49))).is_err(),
            "a 51-character segment"
        );
        assert_eq!(
            tags("a, b ,A").unwrap(),
            Some(FieldValue::Text("a,b".into()))
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
