//! The contact model: how checked input becomes a stored item, how a patch
//! becomes an update, and how an item is shown to clients.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use crate::counts::{self, Tally};
use crate::error::ApiError;
use crate::fields::{
    CONTACT_FIELDS, DEFAULT_CONTACT_TYPE, DEFAULT_ENRICHMENT_STATUS, DEFAULT_SOURCE,
};
use crate::search;
use crate::store::expr::Update;
use crate::validate::{FieldValue, Input};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Server-owned attributes of a stored contact.
pub mod attr {
    pub const ID: &str = "id";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const VERSION: &str = "version";
    /// Constant partition key of the `by_created` index, so "all contacts,
    /// newest first" is a Query, not a Scan.
    pub const ENTITY: &str = "entity";
    /// Lower-cased `full_name` and `email`, for case-insensitive search.
    pub const NAME_LC: &str = "name_lc";
    pub const EMAIL_LC: &str = "email_lc";
    /// On an email-claim item: the contact that owns the address.
    pub const CONTACT_ID: &str = "contact_id";
    /// The last PATCH that wrote the contact: a patch whose answer was lost
    /// and that the SDK sent again recognises its own write by it.
    pub const WRITE_ID: &str = "write_id";
}

/// `entity` value of contact items.
pub const CONTACT_ENTITY: &str = "contact";

/// Key prefix of the items that claim an email address for one contact.
/// They live in the contacts table so a create can claim the address in the
/// same transaction that writes the contact.
pub const EMAIL_CLAIM_PREFIX: &str = "email#";

/// The key of the claim item for a lower-cased email.
pub fn email_claim_key(email_lc: &str) -> String {
    format!("{EMAIL_CLAIM_PREFIX}{email_lc}")
}

/// Attributes a list item shows, besides `company_name`.
pub fn summary_attrs() -> Vec<&'static str> {
    let mut attrs = vec![attr::ID];
    attrs.extend(
        CONTACT_FIELDS
            .iter()
            .filter(|f| f.in_summary)
            .map(|f| f.name),
    );
    attrs.push(attr::CREATED_AT);
    attrs
}

/// The stored form of a checked field value. JSON objects are stored as
/// JSON text: any valid JSON round-trips, where a DynamoDB map would refuse
/// numbers beyond ±1e125 or nesting beyond 32 levels.
pub fn attribute(v: &FieldValue) -> AttributeValue {
    match v {
        FieldValue::Text(s) => AttributeValue::S(s.clone()),
        FieldValue::Number(n) => AttributeValue::N(n.to_string()),
        FieldValue::Object(m) => AttributeValue::S(Value::Object(m.clone()).to_string()),
    }
}

/// A stored attribute as JSON, reading JSON-object fields back from their text.
fn attribute_json(name: &str, v: &AttributeValue) -> Option<Value> {
    let is_object = CONTACT_FIELDS
        .iter()
        .any(|f| f.name == name && f.kind == crate::fields::Kind::JsonObject);
    match v {
        AttributeValue::S(text) if is_object => serde_json::from_str(text).ok(),
        other => serde_dynamo::from_attribute_value::<_, Value>(other.clone()).ok(),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `first_name + " " + last_name`, skipping what is missing.
fn joined_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// The value a field falls back to when created without it or cleared.
fn default_for(field: &str) -> Option<AttributeValue> {
    match field {
        "contact_type" => Some(s(DEFAULT_CONTACT_TYPE)),
        "source" => Some(s(DEFAULT_SOURCE)),
        "portal_access" => Some(n(0)),
        "enrichment_status" => Some(s(DEFAULT_ENRICHMENT_STATUS)),
        _ => None,
    }
}

fn needs_email_or_company() -> ApiError {
    ApiError::field("email", "email or company_id is required")
}

/// A contact ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub item: Item,
    pub id: String,
    pub email_lc: Option<String>,
    pub company_id: Option<String>,
}

impl NewContact {
    /// Builds the item for a create: applies defaults, derives `full_name`,
    /// and requires an email or a company.
    pub fn from_input(input: &Input, id: String, now: &str) -> Result<Self, ApiError> {
        let email = input.text("email");
        let company_id = input.text("company_id").map(str::to_string);
        if email.is_none() && company_id.is_none() {
            return Err(needs_email_or_company());
        }
        let mut item: Item = input
            .fields
            .iter()
            .filter_map(|(f, v)| v.as_ref().map(|v| (f.name.to_string(), attribute(v))))
            .collect();
        for f in CONTACT_FIELDS {
            if let (false, Some(default)) = (item.contains_key(f.name), default_for(f.name)) {
                item.insert(f.name.to_string(), default);
            }
        }
        let full_name = input
            .text("full_name")
            .map(str::to_string)
            .or_else(|| joined_name(input.text("first_name"), input.text("last_name")));
        if let Some(full_name) = &full_name {
            item.insert("full_name".into(), s(full_name));
            item.insert(attr::NAME_LC.into(), s(full_name.to_lowercase()));
        }
        let email_lc = email.map(str::to_lowercase);
        if let Some(lc) = &email_lc {
            item.insert(attr::EMAIL_LC.into(), s(lc));
        }
        let name_lc = full_name.as_deref().map(str::to_lowercase);
        search::insert_copy(&mut item, name_lc.as_deref(), email_lc.as_deref());
        item.insert(attr::ID.into(), s(&id));
        item.insert(attr::ENTITY.into(), s(CONTACT_ENTITY));
        item.insert(attr::CREATED_AT.into(), s(now));
        item.insert(attr::UPDATED_AT.into(), s(now));
        item.insert(attr::VERSION.into(), n(1));
        // New contacts are pending, so due for enrichment at once.
        for (name, value) in crate::enrich::queue::due_attrs(crate::enrich::queue::epoch_ms(now)) {
            item.insert(name.into(), value);
        }
        Ok(NewContact {
            item,
            id,
            email_lc,
            company_id,
        })
    }
}

/// Whether a patch must read the current contact first: to free the old
/// email, to re-derive `full_name` from changed name parts, to rebuild the
/// search copy (which holds name and email together), to check the contact
/// keeps an email or a company, or to move it between the counters of its
/// old and new company, type and source.
pub fn patch_needs_current(input: &Input) -> bool {
    [
        "email",
        "first_name",
        "last_name",
        "full_name",
        "company_id",
        "contact_type",
        "source",
    ]
    .iter()
    .any(|f| input.mentions(f))
}

/// A patch turned into one conditional update, plus what else the write
/// must do atomically with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPlan {
    pub update: Update,
    /// `(old, new)` lower-cased emails when the address changes (ignoring case).
    pub email_change: Option<(Option<String>, Option<String>)>,
    /// A company that must exist for the write to happen.
    pub company_to_check: Option<String>,
    /// Counters to `ADD` to in the same transaction, when the patch moves
    /// the contact to another company, type or source.
    pub counter_moves: Vec<(Tally, i64)>,
}

/// Reads text attribute `name` of an item.
pub fn text_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// Reads the `version` of an item.
pub fn version_of(item: &Item) -> Option<u64> {
    item.get(attr::VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Plans a PATCH. `current` is the item read first (required when
/// [`patch_needs_current`] says so); its version then guards the write.
/// `if_match` is the version the client says it last saw.
pub fn plan_patch(
    input: &Input,
    current: Option<&Item>,
    if_match: Option<u64>,
    now: &str,
) -> Result<PatchPlan, ApiError> {
    let mut u = Update::new();
    for (field, value) in &input.fields {
        match value
            .as_ref()
            .map(attribute)
            .or_else(|| default_for(field.name))
        {
            Some(v) => u.set(field.name, v),
            None => u.remove(field.name),
        };
    }

    // PATCHing enrichment_status to pending (or clearing it) re-queues the
    // contact; any other status takes it off the enrichment queue.
    if let Some(status) = input.get("enrichment_status") {
        let status = status
            .and_then(FieldValue::as_text)
            .unwrap_or(DEFAULT_ENRICHMENT_STATUS);
        crate::enrich::queue::on_status_patch(&mut u, status, crate::enrich::queue::epoch_ms(now));
    }

    let mut email_change = None;
    let mut counter_moves = Vec::new();
    if let Some(cur) = current {
        // Text after the patch: the patch's value if it mentions the field, else the current one.
        let after = |name: &str| match input.get(name) {
            Some(v) => v.and_then(FieldValue::as_text).map(str::to_string),
            None => text_attr(cur, name).map(str::to_string),
        };
        if after("email").is_none() && after("company_id").is_none() {
            return Err(needs_email_or_company());
        }
        let name_parts_changed = input.mentions("first_name") || input.mentions("last_name");
        let full_name_was_derived = text_attr(cur, "full_name").map(str::to_string)
            == joined_name(text_attr(cur, "first_name"), text_attr(cur, "last_name"));
        let derive = input.get("full_name") == Some(None)
            || (!input.mentions("full_name") && name_parts_changed && full_name_was_derived);
        let full_name = if derive {
            let name = joined_name(
                after("first_name").as_deref(),
                after("last_name").as_deref(),
            );
            match &name {
                Some(name) => u.set("full_name", s(name)),
                None => u.remove("full_name"),
            };
            name
        } else {
            after("full_name")
        };
        let name_lc = full_name.map(|n| n.to_lowercase());
        let email_lc = after("email").map(|e| e.to_lowercase());
        if input.mentions("email") {
            let old = text_attr(cur, attr::EMAIL_LC).map(str::to_string);
            match &email_lc {
                Some(lc) => u.set(attr::EMAIL_LC, s(lc)),
                None => u.remove(attr::EMAIL_LC),
            };
            if old != email_lc {
                email_change = Some((old, email_lc.clone()));
            }
        }
        if ["email", "first_name", "last_name", "full_name"]
            .iter()
            .any(|f| input.mentions(f))
        {
            match &name_lc {
                Some(lc) => u.set(attr::NAME_LC, s(lc)),
                None => u.remove(attr::NAME_LC),
            };
            search::set_copy(&mut u, name_lc.as_deref(), email_lc.as_deref());
        }
        let contact_type = after("contact_type");
        let source = after("source");
        counter_moves = counts::moves(
            &counts::tallies_of(cur),
            &counts::tallies(
                after("company_id").as_deref(),
                contact_type.as_deref().unwrap_or(DEFAULT_CONTACT_TYPE),
                source.as_deref().unwrap_or(DEFAULT_SOURCE),
            ),
        );
        u.require_eq(attr::VERSION, n(version_of(cur).unwrap_or(0)));
    }
    u.set(attr::UPDATED_AT, s(now))
        .add(attr::VERSION, 1)
        .require_exists(attr::ID);
    if let Some(v) = if_match {
        u.require_eq(attr::VERSION, n(v));
    }
    Ok(PatchPlan {
        update: u,
        email_change,
        company_to_check: input.text("company_id").map(str::to_string),
        counter_moves,
    })
}

/// A contact as `GET /api/contacts/:id` shows it: every declared field
/// (`null` when unset), the server attributes, and `company_name`.
pub fn to_json(item: &Item, company_name: Option<&str>) -> Value {
    let names = CONTACT_FIELDS.iter().map(|f| f.name).chain([
        attr::CREATED_AT,
        attr::UPDATED_AT,
        attr::VERSION,
    ]);
    render(item, names, company_name)
}

/// A contact as a list item shows it: the summary fields and `company_name`.
pub fn summary_json(item: &Item, company_name: Option<&str>) -> Value {
    render(
        item,
        summary_attrs().into_iter().filter(|a| *a != attr::ID),
        company_name,
    )
}

/// `id`, then each of `names` from the item (`null` when absent), then
/// `company_name`. Internal attributes never appear because only declared
/// names are read.
fn render<'a>(
    item: &Item,
    names: impl Iterator<Item = &'a str>,
    company_name: Option<&str>,
) -> Value {
    let mut out = Map::new();
    for name in std::iter::once(attr::ID).chain(names) {
        let value = item
            .get(name)
            .and_then(|v| attribute_json(name, v))
            .unwrap_or(Value::Null);
        out.insert(name.to_string(), value);
    }
    out.insert(
        "company_name".into(),
        company_name.map_or(Value::Null, |c| Value::String(c.into())),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::CONTACT_FIELDS;
    use crate::validate::{self, Mode};
    use serde_json::json;

    fn input(body: Value, mode: Mode) -> Input {
        validate::fields(body.as_object().unwrap().clone(), CONTACT_FIELDS, mode).unwrap()
    }

    const NOW: &str = "2026-12-03T10:00:00Z";

    #[test]
    fn create_derives_full_name_and_applies_defaults() {
        let c = NewContact::from_input(
            &input(
                json!({"email": "Jane@Acme.com", "first_name": "Jane", "last_name": "Smith"}),
                Mode::Create,
            ),
            "ct_1".into(),
            NOW,
        )
        .unwrap();
        assert_eq!(text_attr(&c.item, "full_name"), Some("Jane Smith"));
        assert_eq!(text_attr(&c.item, attr::NAME_LC), Some("jane smith"));
        assert_eq!(text_attr(&c.item, "contact_type"), Some("end_user"));
        assert_eq!(text_attr(&c.item, "source"), Some("manual"));
        assert_eq!(text_attr(&c.item, "enrichment_status"), Some("pending"));
        assert_eq!(c.item["portal_access"], n(0));
        assert_eq!(c.email_lc.as_deref(), Some("jane@acme.com"));
        assert_eq!(version_of(&c.item), Some(1));
    }

    #[test]
    fn explicit_full_name_overrides_the_parts() {
        let c = NewContact::from_input(
            &input(json!({"email": "a@b.co", "first_name": "J", "last_name": "S", "full_name": "Dr. Jane Smith"}), Mode::Create),
            "ct_1".into(),
            NOW,
        )
        .unwrap();
        assert_eq!(text_attr(&c.item, "full_name"), Some("Dr. Jane Smith"));
    }

    #[test]
    fn create_needs_email_or_company() {
        let err = NewContact::from_input(
            &input(json!({"first_name": "J"}), Mode::Create),
            "ct_1".into(),
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, ApiError::Validation(f) if f[0].field == "email"));
    }

    fn stored(body: Value) -> Item {
        NewContact::from_input(&input(body, Mode::Create), "ct_1".into(), NOW)
            .unwrap()
            .item
    }

    #[test]
    fn simple_patch_needs_no_read_and_only_guards_existence() {
        let p = input(json!({"title": "CTO", "phone": null}), Mode::Patch);
        assert!(!patch_needs_current(&p));
        let plan = plan_patch(&p, None, None, NOW).unwrap();
        assert_eq!(
            plan.update.expression().unwrap(),
            "SET #n0 = :v0, #n2 = :v1 REMOVE #n1 ADD #n3 :v2"
        );
        assert_eq!(plan.update.condition().unwrap(), "attribute_exists(#n4)");
        assert_eq!(plan.email_change, None);
    }

    #[test]
    fn clearing_a_defaulted_field_restores_its_default() {
        let p = input(json!({"contact_type": null}), Mode::Patch);
        let plan = plan_patch(&p, None, None, NOW).unwrap();
        assert!(
            plan.update
                .ph
                .values()
                .unwrap()
                .values()
                .any(|v| v == &s("end_user"))
        );
    }

    #[test]
    fn changing_a_name_part_rederives_a_derived_full_name() {
        let cur = stored(json!({"email": "a@b.co", "first_name": "Jane", "last_name": "Smith"}));
        let p = input(json!({"last_name": "Doe"}), Mode::Patch);
        assert!(patch_needs_current(&p));
        let plan = plan_patch(&p, Some(&cur), None, NOW).unwrap();
        assert!(
            plan.update
                .ph
                .values()
                .unwrap()
                .values()
                .any(|v| v == &s("Jane Doe"))
        );
        assert!(
            plan.update
                .condition()
                .unwrap()
                .contains("attribute_exists")
        );
    }

    #[test]
    fn an_explicit_full_name_survives_name_part_changes() {
        let cur = stored(json!({"email": "a@b.co", "first_name": "Jane", "full_name": "Dr. Jane"}));
        let plan = plan_patch(
            &input(json!({"first_name": "J"}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert!(
            !plan
                .update
                .ph
                .names()
                .unwrap()
                .values()
                .any(|a| a == "full_name")
        );
    }

    #[test]
    fn clearing_full_name_names_the_path_once_and_renaming_refreshes_search() {
        let cur = stored(json!({"email": "a@b.co", "first_name": "Jane", "last_name": "Smith"}));
        let plan = plan_patch(
            &input(json!({"full_name": null}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        let expr = plan.update.expression().unwrap();
        let full_name_ph = plan
            .update
            .ph
            .names()
            .unwrap()
            .into_iter()
            .find(|(_, a)| a == "full_name")
            .unwrap()
            .0;
        assert_eq!(expr.matches(full_name_ph.as_str()).count(), 1, "{expr}");
        let plan = plan_patch(
            &input(
                json!({"full_name": "Robert Roe", "first_name": "Bob"}),
                Mode::Patch,
            ),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert!(
            plan.update
                .ph
                .values()
                .unwrap()
                .values()
                .any(|v| v == &s("robert roe"))
        );
    }

    #[test]
    fn email_change_is_reported_but_case_change_is_not() {
        let cur = stored(json!({"email": "jane@acme.com"}));
        let plan = plan_patch(
            &input(json!({"email": "JANE@acme.com"}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(plan.email_change, None);
        let plan = plan_patch(
            &input(json!({"email": "j@new.co"}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(
            plan.email_change,
            Some((Some("jane@acme.com".into()), Some("j@new.co".into())))
        );
    }

    #[test]
    fn changing_type_moves_the_contact_between_type_counters() {
        let cur = stored(json!({"email": "a@b.co", "contact_type": "lead"}));
        let p = input(json!({"contact_type": "client", "title": "x"}), Mode::Patch);
        assert!(patch_needs_current(&p));
        let plan = plan_patch(&p, Some(&cur), None, NOW).unwrap();
        assert_eq!(
            plan.counter_moves,
            vec![
                (Tally::Type("lead".into()), -1),
                (Tally::Type("client".into()), 1)
            ]
        );
        let same = plan_patch(
            &input(json!({"contact_type": "lead"}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert!(same.counter_moves.is_empty());
    }

    #[test]
    fn clearing_source_moves_the_contact_to_the_default_source() {
        let cur = stored(json!({"email": "a@b.co", "source": "web"}));
        let plan = plan_patch(
            &input(json!({"source": null}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(
            plan.counter_moves,
            vec![
                (Tally::Source("web".into()), -1),
                (Tally::Source("manual".into()), 1)
            ]
        );
    }

    #[test]
    fn removing_the_last_identifier_is_refused() {
        let cur = stored(json!({"email": "jane@acme.com"}));
        let err = plan_patch(
            &input(json!({"email": null}), Mode::Patch),
            Some(&cur),
            None,
            NOW,
        )
        .unwrap_err();
        assert!(matches!(err, ApiError::Validation(_)));
    }

    #[test]
    fn if_match_adds_a_version_condition() {
        let plan = plan_patch(
            &input(json!({"title": "x"}), Mode::Patch),
            None,
            Some(7),
            NOW,
        )
        .unwrap();
        assert!(
            plan.update
                .ph
                .values()
                .unwrap()
                .values()
                .any(|v| v == &n(7))
        );
        assert!(plan.update.condition().unwrap().contains(" AND "));
    }

    #[test]
    fn new_contacts_are_due_for_enrichment_at_once() {
        use crate::enrich::queue;
        let item = stored(json!({"email": "a@b.co"}));
        assert!(queue::is_due(&item, queue::epoch_ms(NOW)));
        assert!(!queue::is_due(&item, queue::epoch_ms(NOW) - 1));
    }

    #[test]
    fn patching_status_to_pending_requeues_and_other_statuses_dequeue() {
        let names = |body: Value| {
            let plan = plan_patch(&input(body, Mode::Patch), None, None, NOW).unwrap();
            (
                plan.update.expression().unwrap(),
                plan.update.ph.names().unwrap(),
            )
        };
        let (expr, n) = names(json!({"enrichment_status": "pending"}));
        let queue_ph = n
            .iter()
            .find(|(_, a)| *a == crate::enrich::queue::QUEUE)
            .unwrap()
            .0;
        assert!(
            expr.split(" REMOVE ")
                .next()
                .unwrap()
                .contains(queue_ph.as_str()),
            "{expr}"
        );
        let (expr, n) = names(json!({"enrichment_status": "enriched"}));
        let queue_ph = n
            .iter()
            .find(|(_, a)| *a == crate::enrich::queue::QUEUE)
            .unwrap()
            .0;
        assert!(
            expr.split(" REMOVE ")
                .nth(1)
                .unwrap()
                .contains(queue_ph.as_str()),
            "{expr}"
        );
    }

    #[test]
    fn json_shows_fields_and_hides_internal_attributes() {
        let item = stored(
            json!({"email": "Jane@Acme.com", "company_id": "co_01JZ0000000000000000000000"}),
        );
        let v = to_json(&item, Some("Acme"));
        assert_eq!(v["email"], "Jane@Acme.com");
        assert_eq!(v["company_name"], "Acme");
        assert_eq!(v["portal_access"], 0);
        assert_eq!(v["version"], 1);
        assert_eq!(
            v["phone"],
            Value::Null,
            "unset fields are null, so every contact has one shape"
        );
        for hidden in [
            attr::ENTITY,
            attr::NAME_LC,
            attr::EMAIL_LC,
            attr::WRITE_ID,
            search::COPY,
            search::CUT,
        ] {
            assert!(v.get(hidden).is_none(), "{hidden} leaked");
        }
        let summary = summary_json(&item, None);
        assert_eq!(summary["company_name"], Value::Null);
        assert!(summary.get("notes").is_none() && summary.get("version").is_none());
        assert_eq!(summary["portal_role"], Value::Null);
    }
}
