//! DynamoDB expressions, built only from `#name` / `:value` placeholders:
//! attribute names and client text never appear in expression strings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// Collects the placeholders of one request's expressions.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    /// Values are numbered by a counter, not by the map's size, so a value
    /// dropped by [`Update`] never lets a later one reuse its placeholder.
    next_value: usize,
}

impl Placeholders {
    /// The placeholder for attribute `attr` (the same one each time it is asked).
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((ph, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return ph.clone();
        }
        let ph = format!("#n{}", self.names.len());
        self.names.insert(ph.clone(), attr.to_string());
        ph
    }

    /// A fresh placeholder bound to `value`.
    pub fn value(&mut self, value: AttributeValue) -> String {
        let ph = format!(":v{}", self.next_value);
        self.next_value += 1;
        self.values.insert(ph.clone(), value);
        ph
    }

    /// `None` when empty, as the SDK requires for unused maps.
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// A projection of `attrs`, for reading only what a response needs.
    pub fn projection(&mut self, attrs: &[&str]) -> String {
        attrs
            .iter()
            .map(|a| self.name(a))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An `UpdateItem` expression with its condition.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Update {
    pub ph: Placeholders,
    /// `(name, value)` placeholders; one action per attribute (the last one
    /// asked for wins), since DynamoDB refuses an update naming a path twice.
    set: Vec<(String, String)>,
    remove: Vec<String>,
    add: Vec<(String, String)>,
    conditions: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    /// `SET attr = value`.
    pub fn set(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        let n = self.forget(attr);
        let v = self.ph.value(value);
        self.set.push((n, v));
        self
    }

    /// `REMOVE attr`.
    pub fn remove(&mut self, attr: &str) -> &mut Self {
        let n = self.forget(attr);
        self.remove.push(n);
        self
    }

    /// `ADD attr by`, for counters.
    pub fn add(&mut self, attr: &str, by: i64) -> &mut Self {
        let n = self.forget(attr);
        let v = self.ph.value(AttributeValue::N(by.to_string()));
        self.add.push((n, v));
        self
    }

    /// Drops any earlier action on `attr` (and its now unused value) and
    /// returns the attribute's name placeholder.
    fn forget(&mut self, attr: &str) -> String {
        let n = self.ph.name(attr);
        let mut dropped = Vec::new();
        for list in [&mut self.set, &mut self.add] {
            list.retain(|(name, value)| {
                let keep = *name != n;
                if !keep {
                    dropped.push(value.clone());
                }
                keep
            });
        }
        self.remove.retain(|name| *name != n);
        for value in dropped {
            self.ph.values.remove(&value);
        }
        n
    }

    /// Requires the item to exist.
    pub fn require_exists(&mut self, key_attr: &str) -> &mut Self {
        let n = self.ph.name(key_attr);
        self.conditions.push(format!("attribute_exists({n})"));
        self
    }

    /// Requires `attr` to equal `value`.
    pub fn require_eq(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        let (n, v) = (self.ph.name(attr), self.ph.value(value));
        self.conditions.push(format!("{n} = {v}"));
        self
    }

    /// Requires `attr` to be absent or to differ from `value`.
    pub fn require_ne(&mut self, attr: &str, value: AttributeValue) -> &mut Self {
        let (n, v) = (self.ph.name(attr), self.ph.value(value));
        self.conditions
            .push(format!("(attribute_not_exists({n}) OR {n} <> {v})"));
        self
    }

    /// Requires `attr` to be present.
    pub fn require_present(&mut self, attr: &str) -> &mut Self {
        let n = self.ph.name(attr);
        self.conditions.push(format!("attribute_exists({n})"));
        self
    }

    /// Requires `attr` to be absent.
    pub fn require_absent(&mut self, attr: &str) -> &mut Self {
        let n = self.ph.name(attr);
        self.conditions.push(format!("attribute_not_exists({n})"));
        self
    }

    /// The `UpdateExpression`, or `None` when nothing would change.
    pub fn expression(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            let set: Vec<String> = self.set.iter().map(|(n, v)| format!("{n} = {v}")).collect();
            parts.push(format!("SET {}", set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        if !self.add.is_empty() {
            let add: Vec<String> = self.add.iter().map(|(n, v)| format!("{n} {v}")).collect();
            parts.push(format!("ADD {}", add.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The `ConditionExpression`, all conditions joined with AND.
    pub fn condition(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn builds_set_remove_add_with_placeholders_only() {
        let mut u = Update::new();
        u.set("title", s("CTO"))
            .remove("phone")
            .add("version", 1)
            .require_exists("id");
        assert_eq!(
            u.expression().unwrap(),
            "SET #n0 = :v0 REMOVE #n1 ADD #n2 :v1"
        );
        assert_eq!(u.condition().unwrap(), "attribute_exists(#n3)");
        let names = u.ph.names().unwrap();
        assert_eq!(names["#n0"], "title");
        assert_eq!(names["#n1"], "phone");
        assert_eq!(names["#n3"], "id");
        assert_eq!(u.ph.values().unwrap()[":v0"], s("CTO"));
    }

    #[test]
    fn hostile_text_stays_in_values() {
        let evil = "x = :v0, #n0 = :v1 REMOVE id";
        let mut u = Update::new();
        u.set("notes", s(evil));
        let expr = u.expression().unwrap();
        assert!(!expr.contains("REMOVE"), "{expr}");
        assert_eq!(u.ph.values().unwrap()[":v0"], s(evil));
    }

    #[test]
    fn same_attribute_reuses_its_placeholder() {
        let mut u = Update::new();
        u.set("version", AttributeValue::N("2".into()))
            .require_eq("version", AttributeValue::N("1".into()));
        assert_eq!(u.expression().unwrap(), "SET #n0 = :v0");
        assert_eq!(u.condition().unwrap(), "#n0 = :v1");
    }

    #[test]
    fn a_path_is_named_once_the_last_action_winning() {
        let mut u = Update::new();
        u.remove("full_name")
            .set("full_name", s("A"))
            .set("full_name", s("B"));
        assert_eq!(u.expression().unwrap(), "SET #n0 = :v1");
        assert_eq!(
            u.ph.values().unwrap().len(),
            1,
            "the dropped value is unbound too"
        );
        u.remove("full_name");
        assert_eq!(u.expression().unwrap(), "REMOVE #n0");
        assert_eq!(u.ph.values(), None);
    }

    #[test]
    fn empty_update_has_no_expression() {
        let u = Update::new();
        assert_eq!(u.expression(), None);
        assert_eq!(u.condition(), None);
        assert_eq!(u.ph.names(), None);
    }
}
