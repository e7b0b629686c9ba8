//! Companies in DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::expr::Placeholders;
use super::{Created, Store, failed_condition, index};
use crate::company::COMPANY_ENTITY;
use crate::contact::{Item, attr};
use crate::error::ApiError;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;
/// Rounds of re-asking for keys DynamoDB left unprocessed.
const MAX_BATCH_ROUNDS: u32 = 5;

fn key(id: &str) -> Item {
    Item::from([(attr::ID.to_string(), AttributeValue::S(id.to_string()))])
}

impl Store {
    pub async fn create_company(&self, item: Item) -> Result<Created, ApiError> {
        let mut ph = Placeholders::default();
        let result = self
            .client
            .put_item()
            .table_name(&self.companies_table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({})", ph.name(attr::ID)))
            .set_expression_attribute_names(ph.names())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(e) if failed_condition(&e) => Ok(Created::AlreadyExists),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_company(&self, id: &str) -> Result<Option<Item>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.companies_table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item)
    }

    /// A page of companies, newest first, and how many there are.
    pub async fn list_companies(
        &self,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<Item>, usize), ApiError> {
        let mut ph = Placeholders::default();
        let key_condition = format!(
            "{} = {}",
            ph.name(attr::ENTITY),
            ph.value(AttributeValue::S(COMPANY_ENTITY.into()))
        );
        let query = self
            .client
            .query()
            .table_name(&self.companies_table)
            .index_name(index::BY_CREATED)
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values());
        self.query_window(query, (page as usize - 1) * limit as usize, limit as usize)
            .await
    }

    /// Names of the given companies, in one `BatchGetItem` per 100 ids.
    /// Ids of companies that do not exist are absent from the map.
    pub async fn company_names<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, ApiError> {
        let mut ids: Vec<&str> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut names = HashMap::new();
        for chunk in ids.chunks(BATCH_GET_MAX) {
            let mut ph = Placeholders::default();
            let projection = ph.projection(&[attr::ID, "name"]);
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|id| key(id)).collect()))
                    .projection_expression(projection)
                    .set_expression_attribute_names(ph.names())
                    .build()
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            );
            for round in 0..MAX_BATCH_ROUNDS {
                let Some(keys) = request.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.companies_table, keys)
                    .send()
                    .await?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.companies_table)
                    .unwrap_or_default()
                {
                    if let (Some(AttributeValue::S(id)), Some(AttributeValue::S(name))) =
                        (item.get(attr::ID), item.get("name"))
                    {
                        names.insert(id.clone(), name.clone());
                    }
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.companies_table));
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                }
            }
            if request.is_some() {
                return Err(ApiError::Unavailable);
            }
        }
        Ok(names)
    }
}
