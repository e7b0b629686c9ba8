//! Resource ids: a type prefix and a ULID, so ids sort by creation time.

use ulid::Ulid;

pub const CONTACT_PREFIX: &str = "ct_";
pub const COMPANY_PREFIX: &str = "co_";

/// A fresh contact id, `ct_` + ULID.
pub fn new_contact_id() -> String {
    format!("{CONTACT_PREFIX}{}", Ulid::generate())
}

/// A fresh company id, `co_` + ULID.
pub fn new_company_id() -> String {
    format!("{COMPANY_PREFIX}{}", Ulid::generate())
}

/// The canonical form of `raw` if it is a well-formed id with `prefix`
/// (the ULID part is accepted in either case), else `None`.
pub fn parse(prefix: &str, raw: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?;
    if rest.len() != ulid::ULID_LEN {
        return None;
    }
    let ulid = Ulid::from_string(&rest.to_ascii_uppercase()).ok()?;
    Some(format!("{prefix}{ulid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_parse_back_unchanged() {
        let id = new_contact_id();
        assert_eq!(parse(CONTACT_PREFIX, &id).as_deref(), Some(id.as_str()));
        assert_eq!(id.len(), 3 + 26);
    }

    #[test]
    fn lowercase_ulid_is_canonicalised() {
        let id = "ct_01jz0000000000000000000000";
        assert_eq!(
            parse(CONTACT_PREFIX, id).unwrap(),
            "ct_01JZ0000000000000000000000"
        );
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "ct_",
            "co_01JZ0000000000000000000000",
            "ct_a1b2c3d4",
            "email#x@y.z",
            "ct_01JZ00000000000000000000000",
        ] {
            assert_eq!(parse(CONTACT_PREFIX, bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = new_company_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_company_id();
        assert!(a < b);
    }
}
