//! The provider interface: a source of facts about a contact. Providers
//! propose changes; they never write. Each change names the values it was
//! derived from, so it can be re-checked against a contact that changed
//! since (see [`crate::enrich::plan`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::contact::{Item, text_attr};

/// A proposed value for one contact field, valid only while the fields in
/// `basis` still hold the values it was derived from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: &'static str,
    pub value: String,
    /// `(field, value)` pairs that must still hold; `None` = still empty.
    pub basis: Vec<(&'static str, Option<String>)>,
}

impl Change {
    /// Fills `field` only while it is empty: user-set values always win.
    pub fn fill(field: &'static str, value: impl Into<String>) -> Self {
        Change {
            field,
            value: value.into(),
            basis: vec![(field, None)],
        }
    }

    /// Rewrites `field` (e.g. to its canonical form) only while it still
    /// holds `old`.
    pub fn replace(field: &'static str, old: &str, new: impl Into<String>) -> Self {
        Change {
            field,
            value: new.into(),
            basis: vec![(field, Some(old.to_string()))],
        }
    }

    /// Also requires `field` to still hold what it held in `item`.
    pub fn given(mut self, item: &Item, field: &'static str) -> Self {
        self.basis
            .push((field, text_attr(item, field).map(str::to_string)));
        self
    }

    /// Whether the change still applies to `item`.
    pub fn applies_to(&self, item: &Item) -> bool {
        self.basis
            .iter()
            .all(|(f, v)| text_attr(item, f) == v.as_deref())
            && text_attr(item, self.field) != Some(self.value.as_str())
    }
}

/// What a provider learned about one contact.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The provider knows this person: changes to propose and facts to record
    /// in `enrichment_data`.
    Found {
        changes: Vec<Change>,
        facts: Map<String, Value>,
    },
    /// The provider has nothing on this contact.
    NotFound,
    /// The provider could not answer now (throttled, down, garbage); try
    /// again later, no sooner than `after` if given.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

/// An enrichment source. `lookup` gets the contact as the job read it.
pub trait Provider: Send + Sync {
    /// Recorded as provenance in `enrichment_data`.
    fn name(&self) -> &'static str;
    fn lookup<'a>(&'a self, contact: &'a Item) -> BoxFuture<'a, Lookup>;

    /// Whether `Found` means this source knows the person (a person-data
    /// service), rather than facts derived from the contact itself. When
    /// such a source was asked, only its answer decides `enriched` versus
    /// `not_found` (see [`crate::enrich::plan`]).
    fn is_person_source(&self) -> bool {
        true
    }
}

/// A provider shared with the container (the HTTP provider's connection
/// pool outlives a run).
impl<P: Provider + ?Sized> Provider for Arc<P> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn lookup<'a>(&'a self, contact: &'a Item) -> BoxFuture<'a, Lookup> {
        (**self).lookup(contact)
    }

    fn is_person_source(&self) -> bool {
        (**self).is_person_source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn fill_applies_only_to_empty_fields() {
        let c = Change::fill("photo_url", "https://x/p.png");
        assert!(c.applies_to(&item(&[])));
        assert!(!c.applies_to(&item(&[("photo_url", "https://user/set.png")])));
    }

    #[test]
    fn replace_applies_only_while_the_old_value_holds() {
        let c = Change::replace("phone", "(202) 555-0142", "+12025550142");
        assert!(c.applies_to(&item(&[("phone", "(202) 555-0142")])));
        assert!(!c.applies_to(&item(&[("phone", "+44 20 7946 0958")])));
    }

    #[test]
    fn a_change_to_the_current_value_does_not_apply() {
        let c = Change::replace("phone", "+12025550142", "+12025550142");
        assert!(!c.applies_to(&item(&[("phone", "+12025550142")])));
    }

    #[test]
    fn basis_fields_must_be_unchanged() {
        let read = item(&[("full_name", "Jane Smith")]);
        let c = Change::fill("first_name", "Jane").given(&read, "full_name");
        assert!(c.applies_to(&read));
        assert!(!c.applies_to(&item(&[("full_name", "Janet Smith")])));
    }
}
