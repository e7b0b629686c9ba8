//! API key records: hash, label, creation and revocation times.

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::{Placeholders, Update};
use super::{Store, failed_condition, now};
use crate::contact::Item;
use crate::error::ApiError;

const KEY_HASH: &str = "key_hash";

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key_hash: String,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl KeyRecord {
    fn from_item(item: &Item) -> Option<Self> {
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Some(KeyRecord {
            key_hash: text(KEY_HASH)?,
            name: text("name").unwrap_or_default(),
            created_at: text("created_at").unwrap_or_default(),
            revoked_at: text("revoked_at"),
        })
    }
}

fn key(hash: &str) -> Item {
    Item::from([(KEY_HASH.to_string(), AttributeValue::S(hash.to_string()))])
}

impl Store {
    pub async fn get_api_key(&self, hash: &str) -> Result<Option<KeyRecord>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.api_keys_table)
            .set_key(Some(key(hash)))
            .send()
            .await?;
        Ok(out.item.as_ref().and_then(KeyRecord::from_item))
    }

    /// Stores a key hash. Registering a hash that is already there (and not
    /// revoked) changes nothing, so `make dev` can register its key each start.
    pub async fn put_api_key(&self, hash: &str, name: &str) -> Result<(), ApiError> {
        let mut ph = Placeholders::default();
        let condition = format!("attribute_not_exists({})", ph.name(KEY_HASH));
        let mut item = key(hash);
        item.insert("name".into(), AttributeValue::S(name.to_string()));
        item.insert("created_at".into(), AttributeValue::S(now()));
        let result = self
            .client
            .put_item()
            .table_name(&self.api_keys_table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(ph.names())
            .send()
            .await;
        match result {
            Err(e) if !failed_condition(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Marks a key revoked; `false` when no such key exists.
    pub async fn revoke_api_key(&self, hash: &str) -> Result<bool, ApiError> {
        let mut u = Update::new();
        u.set("revoked_at", AttributeValue::S(now()))
            .require_exists(KEY_HASH);
        self.conditional_update(&self.api_keys_table, key(hash), &u)
            .await
    }

    /// Every key record. The keys table holds a handful of items, read only
    /// by the admin command.
    pub async fn list_api_keys(&self) -> Result<Vec<KeyRecord>, ApiError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.api_keys_table)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            records.extend(page.items().iter().filter_map(KeyRecord::from_item));
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }
}
