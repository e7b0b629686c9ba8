//! `X-SM-Key` authentication. Keys are stored only as SHA-256 hashes; a key
//! is accepted when its hash is in the keys table and not revoked.

use lambda_http::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::store::Store;

/// The request header that carries the API key.
pub const API_KEY_HEADER: &str = "x-sm-key";
/// Prefix of generated keys, so a leaked key is recognisable in a scan.
pub const KEY_PREFIX: &str = "sm_";
/// Longer headers are rejected without a database read.
const MAX_KEY_LEN: usize = 256;

/// The authenticated caller: the hash of the key it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_hash: String,
}

/// Hex SHA-256 of a key: what the keys table stores.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random key: `sm_` and 64 hex digits (256 bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// Checks the request's key. Missing, unknown and revoked keys all give the
/// same `Unauthorized`.
pub async fn authenticate(store: &Store, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let key = headers
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or(ApiError::Unauthorized)?;
    let hash = hash_key(key);
    let record = store
        .get_api_key(&hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    // The lookup was by hash; compare again in constant time so the answer
    // never depends on how much of a stored hash a guess matched.
    let matches: bool = record.key_hash.as_bytes().ct_eq(hash.as_bytes()).into();
    if matches && record.revoked_at.is_none() {
        Ok(Caller { key_hash: hash })
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_are_prefixed_and_distinct() {
        let (a, b) = (generate_key(), generate_key());
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
        assert_ne!(a, b);
    }
}
