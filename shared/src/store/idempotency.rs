//! Idempotency records: one per (API key, route, `Idempotency-Key`), kept
//! 24 hours by DynamoDB TTL on `expires_at`.

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::{Placeholders, Update};
use super::{Store, failed_condition};
use crate::contact::Item;
use crate::error::ApiError;

const KEY: &str = "key";
const REQUEST_HASH: &str = "request_hash";
const RESOURCE_ID: &str = "resource_id";
/// The attempt that holds the lease: it recognises its own write when the
/// SDK retried a request whose answer was lost.
const OWNER: &str = "owner";
const STATE: &str = "state";
const LEASE_UNTIL: &str = "lease_until";
/// The TTL attribute declared in `template.yaml`.
pub const EXPIRES_AT: &str = "expires_at";
const STATUS: &str = "status";
const BODY: &str = "body";
const LOCATION: &str = "location";
const ETAG: &str = "etag";

const IN_FLIGHT: &str = "in_flight";
const DONE: &str = "done";

/// A stored idempotency record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    /// The id the first attempt chose, reused by every retry.
    pub resource_id: String,
    /// The attempt holding the lease (the fresh id that attempt drew).
    pub owner: String,
    /// The answer to replay, once the first attempt has finished.
    pub response: Option<StoredResponse>,
    /// Until when (epoch seconds) the attempt in flight owns the key.
    pub lease_until: i64,
    pub expires_at: i64,
}

/// A finished request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub etag: Option<String>,
}

/// The result of trying to reserve a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// This request owns the key now.
    Reserved,
    /// Another request used the key first.
    Taken(IdempotencyRecord),
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(k: &str) -> Item {
    Item::from([(KEY.to_string(), s(k))])
}

impl IdempotencyRecord {
    fn from_item(item: &Item) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let num = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let response = if text(STATE).as_deref() == Some(DONE) {
            Some(StoredResponse {
                status: u16::try_from(num(STATUS)?).ok()?,
                body: text(BODY)?,
                location: text(LOCATION),
                etag: text(ETAG),
            })
        } else {
            None
        };
        Some(IdempotencyRecord {
            request_hash: text(REQUEST_HASH)?,
            owner: text(OWNER).unwrap_or_default(),
            resource_id: text(RESOURCE_ID)?,
            response,
            lease_until: num(LEASE_UNTIL).unwrap_or(0),
            expires_at: num(EXPIRES_AT).unwrap_or(0),
        })
    }
}

impl Store {
    /// Claims `record_key` for a new request unless a live record holds it
    /// (an expired one that TTL has not yet removed counts as free). The
    /// attempt owns the record under the name `resource_id`.
    pub async fn reserve_idempotency_key(
        &self,
        record_key: &str,
        request_hash: &str,
        resource_id: &str,
        now: i64,
        lease_until: i64,
        expires_at: i64,
    ) -> Result<Reservation, ApiError> {
        let mut ph = Placeholders::default();
        let condition = format!(
            "attribute_not_exists({}) OR {} < {}",
            ph.name(KEY),
            ph.name(EXPIRES_AT),
            ph.value(n(now))
        );
        let item = Item::from([
            (KEY.to_string(), s(record_key)),
            (REQUEST_HASH.to_string(), s(request_hash)),
            (RESOURCE_ID.to_string(), s(resource_id)),
            (OWNER.to_string(), s(resource_id)),
            (STATE.to_string(), s(IN_FLIGHT)),
            (LEASE_UNTIL.to_string(), n(lease_until)),
            (EXPIRES_AT.to_string(), n(expires_at)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.idempotency_table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Reservation::Reserved),
            Err(e) if failed_condition(&e) => {
                // Gone between the two calls (TTL): the caller may simply retry.
                let record = self.idempotency_record(record_key).await?;
                record.map(Reservation::Taken).ok_or(ApiError::Unavailable)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes over an in-flight record whose lease ran out (its request died
    /// mid-way) for the attempt `owner`; only one of several racing retries
    /// wins. A lost answer to our own write still counts as a win.
    pub async fn take_over_idempotency_key(
        &self,
        record_key: &str,
        old_lease: i64,
        new_lease: i64,
        owner: &str,
    ) -> Result<bool, ApiError> {
        let mut u = Update::new();
        u.set(LEASE_UNTIL, n(new_lease))
            .set(OWNER, s(owner))
            .require_eq(STATE, s(IN_FLIGHT))
            .require_eq(LEASE_UNTIL, n(old_lease));
        if self.update_idempotency(record_key, u).await? {
            return Ok(true);
        }
        let record = self.idempotency_record(record_key).await?;
        Ok(record.is_some_and(|r| r.owner == owner && r.response.is_none()))
    }

    /// The record at `record_key`, read consistently.
    pub async fn idempotency_record(
        &self,
        record_key: &str,
    ) -> Result<Option<IdempotencyRecord>, ApiError> {
        let item = self
            .get_consistent(&self.idempotency_table, key(record_key))
            .await?;
        Ok(item.as_ref().and_then(IdempotencyRecord::from_item))
    }

    /// Records the answer to replay, if `owner` still holds the lease.
    pub async fn complete_idempotency_key(
        &self,
        record_key: &str,
        owner: &str,
        response: &StoredResponse,
    ) -> Result<bool, ApiError> {
        let mut u = Update::new();
        u.set(STATE, s(DONE))
            .set(STATUS, n(i64::from(response.status)))
            .set(BODY, s(&response.body));
        if let Some(location) = &response.location {
            u.set(LOCATION, s(location));
        }
        if let Some(etag) = &response.etag {
            u.set(ETAG, s(etag));
        }
        u.require_eq(STATE, s(IN_FLIGHT))
            .require_eq(OWNER, s(owner));
        self.update_idempotency(record_key, u).await
    }

    /// Ends `owner`'s lease early after a failure worth retrying, so the
    /// client's retry can run at once (with the same resource id). A lease
    /// another attempt has taken over is left alone.
    pub async fn release_idempotency_key(
        &self,
        record_key: &str,
        owner: &str,
    ) -> Result<bool, ApiError> {
        let mut u = Update::new();
        u.set(LEASE_UNTIL, n(0))
            .require_eq(STATE, s(IN_FLIGHT))
            .require_eq(OWNER, s(owner));
        self.update_idempotency(record_key, u).await
    }

    async fn update_idempotency(&self, record_key: &str, u: Update) -> Result<bool, ApiError> {
        self.conditional_update(&self.idempotency_table, key(record_key), &u)
            .await
    }
}
