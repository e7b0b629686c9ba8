//! Any bytes as a create or patch body: parsing and validation never panic,
//! and whatever they accept builds a contact whose fields are within limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::contact::NewContact;
use shared::fields::{COMPANY_FIELDS, CONTACT_FIELDS};
use shared::validate::{self, Mode};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = validate::json_object(data) else { return };
    for mode in [Mode::Create, Mode::Patch] {
        if let Ok(input) = validate::fields(body.clone(), CONTACT_FIELDS, mode) {
            for (field, value) in &input.fields {
                assert!(mode == Mode::Patch || field.on_create, "{} accepted on create", field.name);
                if let Some(text) = value.as_ref().and_then(|v| v.as_text()) {
                    assert!(!text.is_empty(), "{} kept an empty string instead of clearing", field.name);
                }
            }
            if mode == Mode::Create
                && let Ok(contact) = NewContact::from_input(&input, "ct_01JZ0000000000000000000000".into(), "t")
            {
                assert!(contact.email_lc.is_some() || contact.company_id.is_some());
            }
        }
    }
    let _ = validate::fields(body, COMPANY_FIELDS, Mode::Create);
});
