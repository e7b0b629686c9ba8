//! The DynamoDB store. One `Store` per container, built once at start-up
//! and shared by every request; each resource has its own module.

pub mod companies;
pub mod contacts;
pub mod counts;
pub mod expr;
pub mod idempotency;
pub mod keys;
pub mod listing;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};

use crate::config::Config;
use crate::contact::Item;
use crate::error::ApiError;

/// Index names, as declared in `template.yaml`.
pub mod index {
    pub const BY_COMPANY: &str = "by_company";
    pub const BY_TYPE: &str = "by_type";
    pub const BY_SOURCE: &str = "by_source";
    pub const BY_CREATED: &str = "by_created";
    pub const BY_DOMAIN: &str = "by_domain";
    /// Keys plus the search copy only ([`crate::search`]), so a search
    /// reads at most 128 bytes per contact instead of the whole summary.
    pub const BY_SEARCH: &str = "by_search";
}

/// The SDK client and the table names.
#[derive(Clone, Debug)]
pub struct Store {
    pub client: Client,
    pub contacts_table: String,
    pub companies_table: String,
    pub api_keys_table: String,
    pub idempotency_table: String,
}

impl Store {
    pub fn new(client: Client, config: &Config) -> Self {
        Store {
            client,
            contacts_table: config.contacts_table.clone(),
            companies_table: config.companies_table.clone(),
            api_keys_table: config.api_keys_table.clone(),
            idempotency_table: config.idempotency_table.clone(),
        }
    }

    /// Entries of `index` with `key_attr = key_value`, newest first: `limit`
    /// of them after skipping `skip`, starting after `after` (an exclusive
    /// start key) when given. DynamoDB is asked for no more entries than
    /// that, so a page costs what it holds (plus what it skips).
    pub(crate) async fn query_page(&self, p: PageQuery<'_>) -> Result<Vec<Item>, ApiError> {
        let mut ph = expr::Placeholders::default();
        let key_condition = format!(
            "{} = {}",
            ph.name(p.key_attr),
            ph.value(AttributeValue::S(p.key_value.to_string()))
        );
        let projection = p.projection.map(|attrs| ph.projection(attrs));
        let query = self
            .client
            .query()
            .table_name(p.table)
            .index_name(p.index)
            .key_condition_expression(key_condition)
            .set_projection_expression(projection)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .scan_index_forward(false);
        let (mut skip, limit) = (p.skip, p.limit);
        let mut start = p.after;
        let mut items = Vec::with_capacity(limit);
        loop {
            let wanted = skip + limit - items.len();
            let out = query
                .clone()
                .limit(wanted.min(i32::MAX as usize) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                if skip > 0 {
                    skip -= 1;
                } else if items.len() < limit {
                    items.push(item);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() || (skip == 0 && items.len() == limit) {
                return Ok(items);
            }
        }
    }
}

/// What [`Store::query_page`] reads.
pub(crate) struct PageQuery<'a> {
    pub table: &'a str,
    pub index: &'a str,
    pub key_attr: &'a str,
    pub key_value: &'a str,
    /// Attributes to read; `None` reads what the index projects.
    pub projection: Option<&'a [&'a str]>,
    pub after: Option<Item>,
    pub skip: usize,
    pub limit: usize,
}

/// Whether a create wrote a new item or found it already written (by an
/// earlier attempt of the same idempotent request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExists,
}

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;
/// Rounds of re-asking for keys DynamoDB left unprocessed.
const MAX_BATCH_ROUNDS: u32 = 5;

impl Store {
    /// The items with `keys` in `table` (missing ones are left out), in one
    /// `BatchGetItem` per 100 keys plus retries of unprocessed keys.
    /// `projection` limits the attributes read; `consistent` asks for
    /// strongly consistent reads.
    pub(crate) async fn batch_get(
        &self,
        table: &str,
        keys: Vec<Item>,
        projection: Option<&[&str]>,
        consistent: bool,
    ) -> Result<Vec<Item>, ApiError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut ph = expr::Placeholders::default();
            let projection = projection.map(|p| ph.projection(p));
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .set_projection_expression(projection)
                    .set_expression_attribute_names(ph.names())
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            for round in 0..MAX_BATCH_ROUNDS {
                let Some(keys) = request.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(table, keys)
                    .send()
                    .await?;
                found.extend(
                    out.responses
                        .unwrap_or_default()
                        .remove(table)
                        .unwrap_or_default(),
                );
                request = out.unprocessed_keys.and_then(|mut u| u.remove(table));
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                }
            }
            if request.is_some() {
                return Err(ApiError::Unavailable);
            }
        }
        Ok(found)
    }
}

impl Store {
    /// The item at `key` in `table`, read consistently so a client sees its
    /// own writes.
    pub(crate) async fn get_consistent(
        &self,
        table: &str,
        key: Item,
    ) -> Result<Option<Item>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    /// Applies `u` to the item at `key` in `table`; `Ok(false)` when its
    /// condition failed.
    pub(crate) async fn conditional_update(
        &self,
        table: &str,
        key: Item,
        u: &expr::Update,
    ) -> Result<bool, ApiError> {
        let result = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key))
            .set_update_expression(u.expression())
            .set_condition_expression(u.condition())
            .set_expression_attribute_names(u.ph.names())
            .set_expression_attribute_values(u.ph.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if failed_condition(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// A transaction DynamoDB cancelled for a reason that retrying would not
/// change: why each item failed, in request order.
pub(crate) struct Cancelled(pub Vec<String>);

impl Cancelled {
    /// Whether item `i` (when there is one) failed its condition.
    pub fn failed(&self, i: Option<usize>) -> bool {
        i.and_then(|i| self.0.get(i))
            .is_some_and(|c| c == "ConditionalCheckFailed")
    }
}

impl Store {
    /// Sends the transaction that `items` builds (afresh for each attempt,
    /// so counters can move to another shard) until it commits. A
    /// cancellation a later attempt may not meet (a racing transaction,
    /// throttling) is retried with backoff; any other is `Err(Cancelled)`
    /// for the caller to explain.
    pub(crate) async fn transact(
        &self,
        items: impl Fn() -> Result<Vec<TransactWriteItem>, ApiError>,
    ) -> Result<Result<(), Cancelled>, ApiError> {
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            let err = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items()?))
                .send()
                .await
            {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let Some(codes) = cancellation_codes(&err) else {
                return Err(err.into());
            };
            let condition_failed = codes.iter().any(|c| c == "ConditionalCheckFailed");
            if condition_failed || !codes.iter().any(|c| worth_retrying(c)) {
                return Ok(Err(Cancelled(codes)));
            }
            backoff(attempt).await;
        }
        Err(busy())
    }
}

/// True when a single-item write failed its condition.
pub(crate) fn failed_condition<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// True when a single-item write met an item that a transaction is
/// changing (`TransactionConflictException`, which the SDK does not retry).
pub(crate) fn in_transaction_conflict<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("TransactionConflictException")
}

/// Why each item of a cancelled transaction failed (`ConditionalCheckFailed`,
/// `TransactionConflict`, `None`, …), in request order; `None` when the
/// transaction failed for another reason.
pub(crate) fn cancellation_codes<R>(
    err: &SdkError<TransactWriteItemsError, R>,
) -> Option<Vec<String>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_string())
                .collect(),
        ),
        _ => None,
    }
}

/// How many times a write is re-tried when a concurrent write got there first.
pub(crate) const MAX_WRITE_ATTEMPTS: u32 = 16;

/// Sleeps a little longer on each attempt, with jitter, before a retry.
pub(crate) async fn backoff(attempt: u32) {
    let jitter = u64::from(ulid::Ulid::generate().random() as u8 % 16);
    tokio::time::sleep(Duration::from_millis(5 * (1 << attempt.min(6)) + jitter)).await;
}

/// Cancellation reasons that mean DynamoDB is throttling.
pub(crate) const THROTTLED: &[&str] = &[
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
];

/// A cancellation reason that a later attempt may not meet: a racing
/// transaction, or throttling (which the SDK does not retry inside a
/// cancelled transaction).
pub(crate) fn worth_retrying(code: &str) -> bool {
    code == "TransactionConflict" || THROTTLED.contains(&code)
}

/// A transaction cancelled for a reason the caller did not expect: a 503
/// when DynamoDB is throttling, else a 409 (a failed transaction is never a
/// 500; the reasons are logged).
pub(crate) fn cancelled(codes: &[String]) -> ApiError {
    if codes.iter().any(|c| THROTTLED.contains(&c.as_str())) {
        return ApiError::Unavailable;
    }
    tracing::warn!(reasons = ?codes, "transaction cancelled");
    busy()
}

pub(crate) fn busy() -> ApiError {
    ApiError::Conflict {
        code: "conflict",
        message: "the resource is being changed by other requests; retry".into(),
        details: None,
    }
}

/// The current time as RFC 3339 with milliseconds, in UTC.
pub fn now() -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from(std::time::SystemTime::now())
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_transaction_is_503_when_throttled_else_409_never_500() {
        let codes = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cancelled(&codes(&["None", "ThrottlingError"])).status(),
            503
        );
        assert_eq!(
            cancelled(&codes(&["ValidationError", "None"])).status(),
            409
        );
        assert_eq!(cancelled(&codes(&["TransactionConflict"])).status(), 409);
    }
}
