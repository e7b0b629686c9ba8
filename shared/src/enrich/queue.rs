//! The enrichment queue: the attributes that put a contact on the sparse
//! `enrich_due` index, and the reads and writes of the job against it.
//! A contact is due exactly while it carries `enrich_queue`.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use aws_smithy_types::date_time::{DateTime, Format};

use crate::contact::{Item, attr};
use crate::error::ApiError;
use crate::store::expr::{Placeholders, Update};
use crate::store::{Store, failed_condition};

/// Index name, as declared in `template.yaml`.
pub const INDEX: &str = "enrich_due";
/// Partition key of the index; present only while the contact is due.
pub const QUEUE: &str = "enrich_queue";
/// Sort key of the index: when the next attempt is due, epoch milliseconds.
pub const DUE_AT: &str = "enrich_due_at";
/// Failed attempts so far.
pub const ATTEMPTS: &str = "enrich_attempts";
/// The one value of [`QUEUE`]; a constant partition, like `by_created`.
pub const QUEUE_DUE: &str = "due";

/// Attributes the index projects besides its keys and `id`: everything the
/// providers and the job read (`template.yaml` must list the same).
pub const PROJECTED: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "full_name",
    "title",
    "department",
    "phone",
    "linkedin_url",
    "photo_url",
    "company_id",
    "enrichment_status",
    ATTEMPTS,
    attr::VERSION,
];

/// Epoch milliseconds of an RFC 3339 timestamp (0 if unreadable).
pub fn epoch_ms(rfc3339: &str) -> i64 {
    DateTime::from_str(rfc3339, Format::DateTime)
        .ok()
        .and_then(|d| d.to_millis().ok())
        .unwrap_or(0)
}

/// RFC 3339 of epoch milliseconds.
pub fn rfc3339(ms: i64) -> String {
    DateTime::from_millis(ms)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The attributes that make a contact due at `now_ms`; set on create.
pub fn due_attrs(now_ms: i64) -> [(&'static str, AttributeValue); 2] {
    [
        (QUEUE, AttributeValue::S(QUEUE_DUE.into())),
        (DUE_AT, AttributeValue::N(now_ms.to_string())),
    ]
}

/// What a PATCH of `enrichment_status` does to the queue: `pending`
/// re-queues the contact (due now, attempts reset); any other status takes
/// it off the queue.
pub fn on_status_patch(u: &mut Update, status: &str, now_ms: i64) {
    if status == crate::fields::DEFAULT_ENRICHMENT_STATUS {
        for (name, value) in due_attrs(now_ms) {
            u.set(name, value);
        }
    } else {
        u.remove(QUEUE).remove(DUE_AT);
    }
    u.remove(ATTEMPTS);
}

/// Whether `item` is on the queue and due at `now_ms`.
pub fn is_due(item: &Item, now_ms: i64) -> bool {
    item.contains_key(QUEUE) && due_at(item).is_some_and(|d| d <= now_ms)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

pub fn due_at(item: &Item) -> Option<i64> {
    number(item, DUE_AT)
}

pub fn attempts(item: &Item) -> u32 {
    number(item, ATTEMPTS).unwrap_or(0).max(0) as u32
}

/// Delay before attempt `failed + 1`: `base * 2^(failed-1)`, capped, and
/// never shorter than what the provider asked for.
pub fn backoff(base: Duration, cap: Duration, failed: u32, asked: Option<Duration>) -> Duration {
    let exp = base.saturating_mul(1u32 << failed.saturating_sub(1).min(20));
    exp.min(cap).max(asked.unwrap_or_default().min(cap))
}

/// Read and write capacity consumed, summed over the run.
#[derive(Debug, Default)]
pub struct Meter {
    units: std::sync::Mutex<(f64, f64)>,
}

impl Meter {
    pub fn read(&self, cc: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) {
        if let (Some(u), Ok(mut m)) = (cc.and_then(|c| c.capacity_units), self.units.lock()) {
            m.0 += u;
        }
    }

    pub fn write(&self, cc: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) {
        if let (Some(u), Ok(mut m)) = (cc.and_then(|c| c.capacity_units), self.units.lock()) {
            m.1 += u;
        }
    }

    /// `(read, write)` capacity units.
    pub fn totals(&self) -> (f64, f64) {
        self.units.lock().map(|m| *m).unwrap_or_default()
    }
}

/// One page of due contacts, oldest due first, and where the next page starts.
pub type Page = (Vec<Item>, Option<Item>);

/// The store operations of the job: a capability of [`Store`], metered.
#[derive(Clone, Debug)]
pub struct Queue {
    pub store: Store,
}

impl Queue {
    pub fn new(store: Store) -> Self {
        Queue { store }
    }

    /// Due contacts with `enrich_due_at <= now_ms`, read from the index
    /// (eventually consistent: the job's conditional write catches stale entries).
    pub async fn due_page(
        &self,
        now_ms: i64,
        limit: i32,
        start: Option<Item>,
        meter: &Meter,
    ) -> Result<Page, ApiError> {
        let mut ph = Placeholders::default();
        let key_condition = due_condition(&mut ph, now_ms);
        let mut attrs = vec![attr::ID, QUEUE, DUE_AT];
        attrs.extend_from_slice(PROJECTED);
        let projection = ph.projection(&attrs);
        let out = self
            .store
            .client
            .query()
            .table_name(&self.store.contacts_table)
            .index_name(INDEX)
            .key_condition_expression(key_condition)
            .projection_expression(projection)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .limit(limit)
            .set_exclusive_start_key(start)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        meter.read(out.consumed_capacity());
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// How many contacts are due at `now_ms` (for progress reporting).
    pub async fn count_due(&self, now_ms: i64) -> Result<u64, ApiError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let mut ph = Placeholders::default();
            let key_condition = due_condition(&mut ph, now_ms);
            let out = self
                .store
                .client
                .query()
                .table_name(&self.store.contacts_table)
                .index_name(INDEX)
                .key_condition_expression(key_condition)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_expression_attribute_names(ph.names())
                .set_expression_attribute_values(ph.values())
                .set_exclusive_start_key(start)
                .send()
                .await?;
            total += out.count.max(0) as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    /// The whole contact, read consistently (after a lost race).
    pub async fn read(&self, id: &str, meter: &Meter) -> Result<Option<Item>, ApiError> {
        let out = self
            .store
            .client
            .get_item()
            .table_name(&self.store.contacts_table)
            .key(attr::ID, AttributeValue::S(id.into()))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        meter.read(out.consumed_capacity());
        Ok(out.item)
    }

    /// Applies `u` to contact `id`; `Ok(false)` when its condition failed
    /// (the contact changed since it was read, or left the queue). When the
    /// update links a company, that company's total moves in the same
    /// transaction, so list totals stay exact.
    pub async fn write(
        &self,
        id: &str,
        u: &Update,
        company_linked: Option<&str>,
        meter: &Meter,
    ) -> Result<bool, ApiError> {
        if let Some(company) = company_linked {
            return self.write_linking(id, u, company, meter).await;
        }
        let result = self
            .store
            .client
            .update_item()
            .table_name(&self.store.contacts_table)
            .key(attr::ID, AttributeValue::S(id.into()))
            .set_update_expression(u.expression())
            .set_condition_expression(u.condition())
            .set_expression_attribute_names(u.ph.names())
            .set_expression_attribute_values(u.ph.values())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                meter.write(out.consumed_capacity());
                Ok(true)
            }
            Err(e) if failed_condition(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn write_linking(
        &self,
        id: &str,
        u: &Update,
        company: &str,
        meter: &Meter,
    ) -> Result<bool, ApiError> {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.store.contacts_table)
            .key(attr::ID, AttributeValue::S(id.into()))
            .update_expression(u.expression().unwrap_or_default())
            .set_condition_expression(u.condition())
            .set_expression_attribute_names(u.ph.names())
            .set_expression_attribute_values(u.ph.values())
            .build()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .update(update)
                .build(),
        ];
        let tally = crate::counts::Tally::Company(company.to_string());
        items.extend(
            self.store
                .counter_adds(&[(tally, 1)], crate::counts::random_shard())?,
        );
        let result = self
            .store
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                for cc in out.consumed_capacity() {
                    meter.write(Some(cc));
                }
                Ok(true)
            }
            Err(e) => match crate::store::cancellation_codes(&e) {
                Some(codes) => lost_race(&codes),
                None => Err(e.into()),
            },
        }
    }

    /// The oldest company whose `domain` is `domain`, through `by_domain`.
    pub async fn company_by_domain(
        &self,
        domain: &str,
        meter: &Meter,
    ) -> Result<Option<String>, ApiError> {
        let mut ph = Placeholders::default();
        let key_condition = format!(
            "{} = {}",
            ph.name("domain"),
            ph.value(AttributeValue::S(domain.into()))
        );
        let out = self
            .store
            .client
            .query()
            .table_name(&self.store.companies_table)
            .index_name(crate::store::index::BY_DOMAIN)
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .limit(1)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        meter.read(out.consumed_capacity());
        Ok(out
            .items()
            .first()
            .and_then(|i| crate::contact::text_attr(i, attr::ID))
            .map(str::to_string))
    }
}

/// What a cancelled linking transaction means: `Ok(false)` when it lost a
/// race (the contact's condition failed, or a concurrent write to one of its
/// items), so the job re-reads and plans again; any other reason
/// (throttling, validation) is an error and the contact stays due for a
/// later run rather than being merged again at once.
fn lost_race(codes: &[String]) -> Result<bool, ApiError> {
    let race = |c: &String| c == "ConditionalCheckFailed" || c == "TransactionConflict";
    let unexplained = |c: &String| c == "None" || race(c);
    if codes.iter().any(race) && codes.iter().all(unexplained) {
        return Ok(false);
    }
    if codes
        .iter()
        .any(|c| crate::store::THROTTLED.contains(&c.as_str()))
    {
        return Err(ApiError::Unavailable);
    }
    Err(ApiError::Internal(format!(
        "enrichment write cancelled: {codes:?}"
    )))
}

/// The queue index's key condition: due now or earlier.
fn due_condition(ph: &mut Placeholders, now_ms: i64) -> String {
    format!(
        "{} = {} AND {} <= {}",
        ph.name(QUEUE),
        ph.value(AttributeValue::S(QUEUE_DUE.into())),
        ph.name(DUE_AT),
        ph.value(AttributeValue::N(now_ms.to_string()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_projects_every_field_a_provider_fills() {
        for f in crate::enrich::http::OFFERED_FIELDS
            .iter()
            .chain(&["company_id"])
        {
            assert!(PROJECTED.contains(f), "{f}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_retry_after() {
        let (base, cap) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(backoff(base, cap, 1, None), Duration::from_secs(60));
        assert_eq!(backoff(base, cap, 2, None), Duration::from_secs(120));
        assert_eq!(backoff(base, cap, 4, None), Duration::from_secs(480));
        assert_eq!(backoff(base, cap, 30, None), cap);
        assert_eq!(
            backoff(base, cap, 1, Some(Duration::from_secs(300))),
            Duration::from_secs(300)
        );
    }

    fn codes(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_failed_condition_or_a_conflict_is_a_lost_race() {
        assert!(!lost_race(&codes(&["ConditionalCheckFailed", "None"])).unwrap());
        assert!(!lost_race(&codes(&["None", "TransactionConflict"])).unwrap());
    }

    #[test]
    fn throttling_is_an_error_not_a_race() {
        for c in [
            ["ThrottlingError", "None"],
            ["None", "ProvisionedThroughputExceeded"],
            ["ConditionalCheckFailed", "ThrottlingError"],
        ] {
            assert!(
                matches!(lost_race(&codes(&c)), Err(ApiError::Unavailable)),
                "{c:?}"
            );
        }
    }

    #[test]
    fn validation_and_unknown_reasons_are_errors_not_races() {
        for c in [
            &["ValidationError", "None"][..],
            &["None", "None"][..],
            &["ItemCollectionSizeLimitExceeded", "ConditionalCheckFailed"][..],
        ] {
            assert!(
                matches!(lost_race(&codes(c)), Err(ApiError::Internal(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn timestamps_round_trip_through_epoch_ms() {
        let ms = epoch_ms("2026-12-03T10:00:00.250Z");
        assert_eq!(rfc3339(ms), "2026-12-03T10:00:00.25Z");
        assert_eq!(epoch_ms("not a time"), 0);
    }

    #[test]
    fn requeue_sets_due_attrs_and_other_statuses_clear_them() {
        let mut u = Update::new();
        on_status_patch(&mut u, "pending", 5);
        let names = u.ph.names().unwrap();
        assert!(names.values().any(|n| n == QUEUE));
        assert!(u.expression().unwrap().starts_with("SET"));
        let mut u = Update::new();
        on_status_patch(&mut u, "enriched", 5);
        assert!(u.expression().unwrap().starts_with("REMOVE"));
    }
}
