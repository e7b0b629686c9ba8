//! `Idempotency-Key` on creates: the same key with the same body replays the
//! first answer and creates one item; with another body it is a 422; while
//! the first request is still running it is a 409. Keys are scoped to the API
//! key that sent them and expire after 24 hours.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::contact::{Item, attr};
use crate::error::ApiError;
use crate::store::Store;
use crate::store::idempotency::{Reservation, StoredResponse};

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const MAX_KEY_CHARS: usize = 255;
/// How long a record is kept (DynamoDB TTL removes it after that).
pub const RETENTION_SECONDS: i64 = 24 * 60 * 60;
/// The longest a request owns its key before a retry may take over. The
/// lease a request takes is shorter: what is left of its own deadline plus
/// `FINISH_BUDGET` (see `lease_seconds`), so a holder that died mid-way
/// blocks its retries for no longer than it could have been running.
pub const LEASE_SECONDS: i64 = 15;
/// Tries at recording an answer (each after the SDK's own retries): a lease
/// left behind would hold the client's retries off for up to
/// `LEASE_SECONDS`. Bounded by `FINISH_BUDGET` so the answer is never lost
/// to the function timeout.
const FINISH_ATTEMPTS: u32 = 3;
const FINISH_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// Header set on replayed answers.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The id an idempotent create must use, chosen by its first attempt.
/// Handlers find it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetId(pub String);

/// The id for a create: the preset one of an idempotent request, else `fresh()`.
pub fn resource_id(req: &Request, fresh: impl FnOnce() -> String) -> String {
    req.extensions()
        .get::<PresetId>()
        .map_or_else(fresh, |p| p.0.clone())
}

/// What a create found at its id when the write reported it already there:
/// the item an earlier attempt of this same request wrote. That is an
/// idempotent retry's first attempt (which chose the id), or this attempt's
/// own write when the SDK sent it again after its answer was lost (then it
/// bears our `created_at`; the job may have enriched it since). Anything
/// else is an id collision, which fresh ULIDs make a bug.
pub fn earlier_write(req: &Request, stored: Option<Item>, ours: &Item) -> Result<Item, ApiError> {
    let preset = req.extensions().get::<PresetId>().is_some();
    let created = |item: &Item| item.get(attr::CREATED_AT).cloned();
    stored
        .filter(|stored| preset || created(stored) == created(ours))
        .ok_or_else(|| ApiError::Internal("resource id collision".into()))
}

/// The request's `Idempotency-Key`, checked.
pub fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty()
        || key.chars().count() > MAX_KEY_CHARS
        || !key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ApiError::field(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
        ));
    }
    Ok(Some(key.to_string()))
}

/// The record of `key` sent by `caller` to `route`.
pub fn record_key(caller: &Caller, route: &str, key: &str) -> String {
    format!("{}#{route}#{key}", caller.key_hash)
}

/// The lease for a request that must be done within `work_left`: until it
/// has certainly stopped (its work cut at the deadline, then `finish`),
/// rounded up to whole seconds, at most `LEASE_SECONDS`.
pub fn lease_seconds(work_left: std::time::Duration) -> i64 {
    let ms = (work_left + FINISH_BUDGET).as_millis();
    i64::try_from(ms.div_ceil(1000) + 1).map_or(LEASE_SECONDS, |s| s.min(LEASE_SECONDS))
}

/// A fingerprint of the body that ignores key order and whitespace when it
/// is JSON, so a client's re-serialised retry still matches.
pub fn request_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    Sha256::digest(&canonical)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What to do with an idempotent request.
pub enum Begin {
    /// Run it, creating the resource under this id.
    Run {
        record_key: String,
        resource_id: String,
        /// This attempt, as the record names its lease holder.
        owner: String,
    },
    /// Answer with what the first attempt answered.
    Replay(Response<Body>),
}

/// Reserves the key, or decides how to answer a repeat.
/// `lease` is `lease_seconds` of the request's deadline.
pub async fn begin(
    store: &Store,
    record_key: String,
    body: &[u8],
    fresh_id: String,
    lease: i64,
) -> Result<Begin, ApiError> {
    let hash = request_hash(body);
    let now = now();
    let reservation = store
        .reserve_idempotency_key(
            &record_key,
            &hash,
            &fresh_id,
            now,
            now + lease,
            now + RETENTION_SECONDS,
        )
        .await?;
    let record = match reservation {
        // Ours; or the SDK retried our own PutItem after its answer was
        // lost, and the record names this attempt (fresh ids are unique).
        Reservation::Reserved => {
            return Ok(Begin::Run {
                record_key,
                resource_id: fresh_id.clone(),
                owner: fresh_id,
            });
        }
        Reservation::Taken(record) if record.owner == fresh_id && record.response.is_none() => {
            return Ok(Begin::Run {
                record_key,
                resource_id: fresh_id.clone(),
                owner: fresh_id,
            });
        }
        Reservation::Taken(record) => record,
    };
    if record.request_hash != hash {
        return Err(ApiError::IdempotencyMismatch);
    }
    if let Some(stored) = record.response {
        return Ok(Begin::Replay(replay(&stored)));
    }
    if record.lease_until > now {
        return Err(in_progress());
    }
    if store
        .take_over_idempotency_key(&record_key, record.lease_until, now + lease, &fresh_id)
        .await?
    {
        Ok(Begin::Run {
            record_key,
            resource_id: record.resource_id,
            owner: fresh_id,
        })
    } else {
        // Another retry just took the key over; it is likely quick.
        Err(in_progress())
    }
}

/// A 409 telling the client to come back in a second: the holder usually
/// finishes within milliseconds, and its lease ends soon after it certainly
/// stopped.
fn in_progress() -> ApiError {
    ApiError::InProgress { retry_after: 1 }
}

/// Ends the lease `owner` may hold when `begin` failed or ran out of time
/// (its reservation may have been written even so), so the client's retry
/// need not wait for the lease to run out.
pub async fn abandon(store: &Store, record_key: &str, owner: &str) {
    settle(store, record_key, owner, None).await;
}

/// Stores a final answer for replay, or frees the key for an immediate
/// retry when the answer was a failure worth retrying (5xx, or a 409 from a
/// write race). Best effort: the client still gets `response`.
pub async fn finish(store: &Store, record_key: &str, owner: &str, response: &Response<Body>) {
    let status = response.status();
    let retryable =
        status.is_server_error() || status == StatusCode::CONFLICT && !is_duplicate(response);
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let stored = (!retryable).then(|| StoredResponse {
        status: status.as_u16(),
        body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
        location: header_text(header::LOCATION),
        etag: header_text(header::ETAG),
    });
    settle(store, record_key, owner, stored.as_ref()).await;
}

/// Stores `stored` as the key's answer, or (with `None`) ends `owner`'s
/// lease; retried while DynamoDB is unavailable, within `FINISH_BUDGET`.
/// Best effort: a lease left behind expires on its own.
async fn settle(store: &Store, record_key: &str, owner: &str, stored: Option<&StoredResponse>) {
    let record = async {
        let mut attempt = 1;
        loop {
            let result = match stored {
                Some(stored) => {
                    store
                        .complete_idempotency_key(record_key, owner, stored)
                        .await
                }
                None => store.release_idempotency_key(record_key, owner).await,
            };
            match result {
                Err(ApiError::Unavailable) if attempt < FINISH_ATTEMPTS => {
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                other => return other.map(|_| ()),
            }
        }
    };
    let outcome = tokio::time::timeout(FINISH_BUDGET, record)
        .await
        .unwrap_or(Err(ApiError::Unavailable));
    if let Err(e) = outcome {
        tracing::warn!(error = ?e, "could not settle an idempotency key; its lease will expire");
    }
}

fn is_duplicate(response: &Response<Body>) -> bool {
    std::str::from_utf8(response.body().as_ref()).is_ok_and(|b| b.contains("\"duplicate_email\""))
}

fn replay(stored: &StoredResponse) -> Response<Body> {
    let mut resp = Response::new(Body::Text(stored.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    for (name, value) in [
        (header::LOCATION, &stored.location),
        (header::ETAG, &stored.etag),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_key_order_and_whitespace() {
        assert_eq!(
            request_hash(br#"{"a":1,"b":2}"#),
            request_hash(b"{ \"b\": 2, \"a\": 1 }")
        );
        assert_ne!(request_hash(br#"{"a":1}"#), request_hash(br#"{"a":2}"#));
    }

    #[test]
    fn keys_are_checked() {
        let mut req = Request::new(Body::Empty);
        assert_eq!(key_of(&req).unwrap(), None);
        req.headers_mut()
            .insert(IDEMPOTENCY_HEADER, "abc-123".parse().unwrap());
        assert_eq!(key_of(&req).unwrap().as_deref(), Some("abc-123"));
        req.headers_mut()
            .insert(IDEMPOTENCY_HEADER, "x".repeat(256).parse().unwrap());
        assert!(key_of(&req).is_err());
        req.headers_mut()
            .insert(IDEMPOTENCY_HEADER, "has space".parse().unwrap());
        assert!(key_of(&req).is_err());
    }

    #[test]
    fn a_lease_outlasts_the_holder_and_no_more() {
        use std::time::Duration;
        // 7.5 s of work + 2 s to record the answer, rounded up, + 1 s.
        assert_eq!(lease_seconds(Duration::from_millis(7_500)), 11);
        assert_eq!(lease_seconds(Duration::ZERO), 3);
        assert_eq!(lease_seconds(Duration::from_secs(60)), LEASE_SECONDS);
    }

    #[test]
    fn preset_id_wins_over_a_fresh_one() {
        let mut req = Request::new(Body::Empty);
        assert_eq!(resource_id(&req, || "fresh".into()), "fresh");
        req.extensions_mut().insert(PresetId("ct_preset".into()));
        assert_eq!(resource_id(&req, || "fresh".into()), "ct_preset");
    }
}
