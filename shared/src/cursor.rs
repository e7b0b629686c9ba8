//! Opaque list cursors: where the next page starts, so page N costs what
//! page 1 costs. A cursor names the last contact shown, how many contacts
//! came before the next page, and a fingerprint of the filters it was made
//! for; a checksum makes garbage and edited cursors a 400 instead of a
//! silently wrong page. It is not a secret: it can only point into the
//! list the caller may already read.

use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::ids::{self, CONTACT_PREFIX};

const VERSION: &str = "c1";
const CHECKSUM_BYTES: usize = 8;
/// Longest cursor accepted, well above any this module makes.
const MAX_CURSOR_CHARS: usize = 512;
/// Largest offset a cursor may carry: far above any real list, and far
/// below where `offset + page length` could overflow.
const MAX_OFFSET: usize = 1 << 40;

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The last contact of the previous page; the next page starts after it.
    pub after_id: String,
    /// How many contacts precede the next page (for `page` and `hasMore`).
    pub offset: usize,
}

/// Identifies a filter set; a cursor only continues the list it came from.
pub fn fingerprint(filters: &[Option<&str>]) -> String {
    let mut h = Sha256::new();
    for f in filters {
        match f {
            Some(v) => {
                h.update([1u8]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    hex(&h.finalize()[..8])
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let digest = Sha256::new()
        .chain_update(b"contacts-cursor\n")
        .chain_update(payload)
        .finalize();
    let mut out = [0u8; CHECKSUM_BYTES];
    out.copy_from_slice(&digest[..CHECKSUM_BYTES]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl Cursor {
    /// The cursor's text for the filter set `fingerprint`.
    pub fn encode(&self, fingerprint: &str) -> String {
        let payload = format!(
            "{VERSION}\n{fingerprint}\n{}\n{}",
            self.offset, self.after_id
        );
        let mut bytes = payload.into_bytes();
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        hex(&bytes)
    }

    /// Reads a cursor made by [`Cursor::encode`] for the same filter set.
    pub fn decode(text: &str, fingerprint: &str) -> Result<Cursor, ApiError> {
        let invalid = || ApiError::field("cursor", "is not a cursor this API returned");
        if text.len() > MAX_CURSOR_CHARS {
            return Err(invalid());
        }
        let bytes = unhex(text).ok_or_else(invalid)?;
        if bytes.len() <= CHECKSUM_BYTES {
            return Err(invalid());
        }
        let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
        if checksum(payload) != sum {
            return Err(invalid());
        }
        let payload = std::str::from_utf8(payload).map_err(|_| invalid())?;
        let mut parts = payload.splitn(4, '\n');
        let (Some(VERSION), Some(fp), Some(offset), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if fp != fingerprint {
            return Err(ApiError::field(
                "cursor",
                "was made for different filters; send the same company_id, type, source and search",
            ));
        }
        Ok(Cursor {
            after_id: ids::parse(CONTACT_PREFIX, id).ok_or_else(invalid)?,
            offset: offset
                .parse()
                .ok()
                .filter(|o| *o <= MAX_OFFSET)
                .ok_or_else(invalid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            after_id: ids::new_contact_id(),
            offset: 50,
        }
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_filters() {
        let fp = fingerprint(&[None, Some("lead"), None, None]);
        let c = sample();
        assert_eq!(Cursor::decode(&c.encode(&fp), &fp).unwrap(), c);
    }

    #[test]
    fn a_cursor_for_other_filters_is_refused() {
        let lead = fingerprint(&[None, Some("lead"), None, None]);
        let client = fingerprint(&[None, Some("client"), None, None]);
        let moved = fingerprint(&[Some("lead"), None, None, None]);
        assert_ne!(lead, moved, "position of a filter matters");
        let text = sample().encode(&lead);
        assert!(matches!(
            Cursor::decode(&text, &client),
            Err(ApiError::Validation(f)) if f[0].field == "cursor"
        ));
    }

    #[test]
    fn garbage_and_edited_cursors_are_refused() {
        let fp = fingerprint(&[None, None, None, None]);
        let good = sample().encode(&fp);
        let mut edited = good.clone().into_bytes();
        edited[10] = if edited[10] == b'0' { b'1' } else { b'0' };
        let edited = String::from_utf8(edited).unwrap();
        for bad in ["", "zz", "abc", &edited, &"00".repeat(300), "ÿÿ"] {
            assert!(
                matches!(Cursor::decode(bad, &fp), Err(ApiError::Validation(f)) if f[0].field == "cursor"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_forged_huge_offset_is_refused() {
        // The checksum is not a secret, so anyone can make a well-formed
        // cursor; an absurd offset must still not reach the arithmetic.
        let fp = fingerprint(&[None, None, None, None]);
        let forged = Cursor {
            after_id: ids::new_contact_id(),
            offset: usize::MAX,
        };
        assert!(Cursor::decode(&forged.encode(&fp), &fp).is_err());
        let far = Cursor {
            offset: MAX_OFFSET,
            ..forged
        };
        assert_eq!(Cursor::decode(&far.encode(&fp), &fp).unwrap(), far);
    }
}
