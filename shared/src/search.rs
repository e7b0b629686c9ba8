//! The search copy: what the slim `by_search` index holds of each contact
//! so that `search` reads a bounded number of bytes per contact, whatever
//! the lengths of names and emails.
//!
//! The copy is the lower-cased `full_name` and `email` joined by
//! [`SEPARATOR`] (which validation keeps out of names, and email syntax out
//! of addresses), cut to at most [`MAX_COPY_BYTES`]. A cut copy is marked
//! with [`CUT`], and a search decides such a contact from its full fields,
//! which few contacts need: the copy fits a 30-character name with a
//! 40-character email.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::contact::Item;
use crate::store::expr::Update;

/// Attribute holding the copy (projected into `by_search`).
pub const COPY: &str = "sq";
/// Attribute present (`true`) when the copy was cut (projected too).
pub const CUT: &str = "sq_cut";
/// Between the name and the email in the copy.
pub const SEPARATOR: char = '\u{1f}';
/// Longest copy. An index entry is then at most 128 bytes: the keys
/// (`entity` = `contact`, `id` = `ct_` + ULID: 44 bytes), `sq` with the copy
/// (2 + 72) and `sq_cut` (6 + 1).
pub const MAX_COPY_BYTES: usize = 72;

/// The copy of a contact with these lower-cased name and email, and whether
/// it had to be cut.
pub fn copy_of(name_lc: Option<&str>, email_lc: Option<&str>) -> (String, bool) {
    let full = format!(
        "{}{SEPARATOR}{}",
        name_lc.unwrap_or_default(),
        email_lc.unwrap_or_default()
    );
    if full.len() <= MAX_COPY_BYTES {
        return (full, false);
    }
    let mut end = MAX_COPY_BYTES;
    while !full.is_char_boundary(end) {
        end -= 1;
    }
    (full[..end].to_string(), true)
}

/// Adds the copy to a new contact's item.
pub fn insert_copy(item: &mut Item, name_lc: Option<&str>, email_lc: Option<&str>) {
    let (copy, cut) = copy_of(name_lc, email_lc);
    item.insert(COPY.into(), AttributeValue::S(copy));
    if cut {
        item.insert(CUT.into(), AttributeValue::Bool(true));
    }
}

/// Sets the copy in a patch that changes the name or the email.
pub fn set_copy(u: &mut Update, name_lc: Option<&str>, email_lc: Option<&str>) {
    let (copy, cut) = copy_of(name_lc, email_lc);
    u.set(COPY, AttributeValue::S(copy));
    if cut {
        u.set(CUT, AttributeValue::Bool(true));
    } else {
        u.remove(CUT);
    }
}

/// Whether a contact whose copy is `copy` matches the lower-cased `text`
/// (a substring of its name or of its email); `None` when the copy was cut
/// and only the full fields can tell.
pub fn copy_matches(copy: &str, cut: bool, text: &str) -> Option<bool> {
    if cut {
        return None;
    }
    let (name, email) = copy.split_once(SEPARATOR).unwrap_or((copy, ""));
    Some(name.contains(text) || email.contains(text))
}

/// Whether full lower-cased fields match `text`.
pub fn fields_match(name_lc: Option<&str>, email_lc: Option<&str>, text: &str) -> bool {
    name_lc.is_some_and(|n| n.contains(text)) || email_lc.is_some_and(|e| e.contains(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes DynamoDB counts for an index entry: names plus values.
    fn entry_bytes(copy: &str, cut: bool) -> usize {
        let id = format!("ct_{}", ulid::Ulid::generate());
        "entity".len()
            + "contact".len()
            + "id".len()
            + id.len()
            + COPY.len()
            + copy.len()
            + if cut { CUT.len() + 1 } else { 0 }
    }

    #[test]
    fn short_fields_are_copied_whole_and_matched_exactly() {
        let (copy, cut) = copy_of(Some("jane smith"), Some("jane@acme.com"));
        assert!(!cut);
        assert_eq!(copy_matches(&copy, cut, "smith"), Some(true));
        assert_eq!(copy_matches(&copy, cut, "acme.c"), Some(true));
        // Never across the two fields.
        assert_eq!(copy_matches(&copy, cut, "smithjane"), Some(false));
        assert_eq!(copy_matches(&copy, cut, "h\u{1f}j"), Some(false));
        assert_eq!(copy_matches(&copy, cut, "bob"), Some(false));
        let (only_email, _) = copy_of(None, Some("x@y.co"));
        assert_eq!(copy_matches(&only_email, false, "y.co"), Some(true));
    }

    #[test]
    fn the_longest_fields_still_fit_128_bytes_an_entry() {
        let name = "é".repeat(200);
        let email = format!("{}@{}.com", "a".repeat(64), "b".repeat(185));
        let (copy, cut) = copy_of(Some(&name), Some(&email));
        assert!(cut && copy.len() <= MAX_COPY_BYTES, "{}", copy.len());
        assert!(
            entry_bytes(&copy, cut) <= 128,
            "{}",
            entry_bytes(&copy, cut)
        );
        assert_eq!(copy_matches(&copy, cut, "zzz"), None, "cut: ask the fields");
        assert!(fields_match(Some(&name), Some(&email), "bbb.com"));
    }
}
