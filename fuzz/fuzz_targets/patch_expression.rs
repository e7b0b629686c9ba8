//! Any accepted patch becomes an update expression made only of
//! placeholders: no client text reaches the expression, and every
//! placeholder it uses is bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contact::{NewContact, plan_patch};
use shared::fields::CONTACT_FIELDS;
use shared::validate::{self, Mode};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = validate::json_object(data) else { return };
    let Ok(input) = validate::fields(body, CONTACT_FIELDS, Mode::Patch) else { return };
    let seed = serde_json::json!({"email": "seed@acme.com", "first_name": "Seed", "last_name": "Contact"});
    let seed_input = validate::fields(seed.as_object().unwrap().clone(), CONTACT_FIELDS, Mode::Create).unwrap();
    let current = NewContact::from_input(&seed_input, "ct_01JZ0000000000000000000000".into(), "t").unwrap().item;
    for cur in [None, Some(&current)] {
        let Ok(plan) = plan_patch(&input, cur, Some(3), "2026-01-01T00:00:00Z") else { continue };
        let u = &plan.update;
        let names = u.ph.names().unwrap_or_default();
        let values = u.ph.values().unwrap_or_default();
        for expr in [u.expression().unwrap_or_default(), u.condition().unwrap_or_default()] {
            for token in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '#' || c == ':' || c == '_')) {
                if token.is_empty() {
                    continue;
                }
                let known = names.contains_key(token)
                    || values.contains_key(token)
                    || ["SET", "REMOVE", "ADD", "AND", "attribute_exists"].contains(&token);
                assert!(known, "unexpected token {token:?} in {expr:?}");
            }
        }
    }
});
