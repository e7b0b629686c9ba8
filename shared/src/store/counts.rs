//! Reading and moving the sharded counters (see [`crate::counts`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::Store;
use super::expr::Update as UpdateExpr;
use crate::contact::{Item, attr};
use crate::counts::{COUNT_ATTR, Tally};
use crate::error::ApiError;

fn key(id: String) -> Item {
    Item::from([(attr::ID.to_string(), AttributeValue::S(id))])
}

impl Store {
    /// One `ADD` per contact counter, on `shard`, to put in a write's transaction.
    pub(crate) fn counter_adds(
        &self,
        moves: &[(Tally, i64)],
        shard: u32,
    ) -> Result<Vec<TransactWriteItem>, ApiError> {
        self.counter_adds_in(&self.contacts_table, moves, shard)
    }

    /// One `ADD` per counter of `table`, on `shard`.
    pub(crate) fn counter_adds_in(
        &self,
        table: &str,
        moves: &[(Tally, i64)],
        shard: u32,
    ) -> Result<Vec<TransactWriteItem>, ApiError> {
        moves
            .iter()
            .map(|(tally, by)| {
                let mut u = UpdateExpr::new();
                u.add(COUNT_ATTR, *by);
                let update = Update::builder()
                    .table_name(table)
                    .set_key(Some(key(tally.shard_key(shard))))
                    .set_update_expression(u.expression())
                    .set_expression_attribute_names(u.ph.names())
                    .set_expression_attribute_values(u.ph.values())
                    .build()
                    .map_err(|e| ApiError::Internal(format!("building a counter update: {e}")))?;
                Ok(TransactWriteItem::builder().update(update).build())
            })
            .collect()
    }

    /// The exact totals of contact `tallies`: every shard of each, read
    /// strongly consistently in one `BatchGetItem`. Missing shards count as zero.
    pub async fn totals(&self, tallies: &[Tally]) -> Result<HashMap<Tally, u64>, ApiError> {
        self.totals_in(&self.contacts_table, tallies).await
    }

    /// The exact totals of counters kept in `table`.
    pub async fn totals_in(
        &self,
        table: &str,
        tallies: &[Tally],
    ) -> Result<HashMap<Tally, u64>, ApiError> {
        let mut owner = HashMap::new();
        let mut keys = Vec::new();
        for t in tallies {
            for k in t.shard_keys() {
                owner.insert(k.clone(), t.clone());
                keys.push(key(k));
            }
        }
        let items = self
            .batch_get(table, keys, Some(&[attr::ID, COUNT_ATTR]), true)
            .await?;
        // Single shards go negative when a contact counted on one shard
        // moves away on another; only their sum means anything.
        let mut sums: HashMap<Tally, i64> = tallies.iter().map(|t| (t.clone(), 0)).collect();
        for item in items {
            let id = item.get(attr::ID).and_then(|v| v.as_s().ok());
            let n = item
                .get(COUNT_ATTR)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0);
            if let Some(t) = id.and_then(|id| owner.get(id)) {
                *sums.entry(t.clone()).or_default() += n;
            }
        }
        Ok(sums
            .into_iter()
            .map(|(t, n)| (t, n.max(0) as u64))
            .collect())
    }
}
