//! The company model. Companies exist so contacts can show `company_name`;
//! the spec has no routes for them, so these are the minimal ones a CRM needs.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::contact::{Item, attr};
use crate::error::ApiError;
use crate::fields::COMPANY_FIELDS;
use crate::validate::Input;

/// `entity` value of company items (partition key of their `by_created` index).
pub const COMPANY_ENTITY: &str = "company";

/// Builds a new company item; `name` is required.
pub fn new_company(input: &Input, id: &str, now: &str) -> Result<Item, ApiError> {
    if input.text("name").is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::field("name", "is required"));
    }
    let s = |v: &str| AttributeValue::S(v.to_string());
    let mut item: Item = input
        .fields
        .iter()
        .filter_map(|(f, v)| {
            v.as_ref()
                .and_then(|v| v.as_text())
                .map(|t| (f.name.to_string(), s(t)))
        })
        .collect();
    item.insert(attr::ID.into(), s(id));
    item.insert(attr::ENTITY.into(), s(COMPANY_ENTITY));
    item.insert(attr::CREATED_AT.into(), s(now));
    item.insert(attr::UPDATED_AT.into(), s(now));
    Ok(item)
}

/// A company as clients see it: id, every declared field (`null` when
/// unset) and the timestamps.
pub fn to_json(item: &Item) -> Value {
    let names = std::iter::once(attr::ID)
        .chain(COMPANY_FIELDS.iter().map(|f| f.name))
        .chain([attr::CREATED_AT, attr::UPDATED_AT]);
    let out: Map<String, Value> = names
        .map(|n| {
            let v = item
                .get(n)
                .and_then(|v| v.as_s().ok())
                .map_or(Value::Null, |s| Value::String(s.clone()));
            (n.to_string(), v)
        })
        .collect();
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{self, Mode};
    use serde_json::json;

    #[test]
    fn company_needs_a_name_and_hides_internal_attributes() {
        let input = validate::fields(
            json!({"domain": "acme.com"}).as_object().unwrap().clone(),
            COMPANY_FIELDS,
            Mode::Create,
        )
        .unwrap();
        assert!(
            matches!(new_company(&input, "co_1", "t"), Err(ApiError::Validation(f)) if f[0].field == "name")
        );
        let input = validate::fields(
            json!({"name": "Acme"}).as_object().unwrap().clone(),
            COMPANY_FIELDS,
            Mode::Create,
        )
        .unwrap();
        let v = to_json(&new_company(&input, "co_1", "t").unwrap());
        assert_eq!(
            v,
            json!({"id": "co_1", "name": "Acme", "domain": null, "created_at": "t", "updated_at": "t"})
        );
    }
}
