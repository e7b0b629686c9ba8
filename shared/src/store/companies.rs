//! Companies in DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::Placeholders;
use super::{Created, Store, failed_condition, index};
use crate::company::COMPANY_ENTITY;
use crate::contact::{Item, attr};
use crate::error::ApiError;

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
        let keys = ids.into_iter().map(key).collect();
        let items = self
            .batch_get(
                &self.companies_table,
                keys,
                Some(&[attr::ID, "name"]),
                false,
            )
            .await?;
        let mut names = HashMap::with_capacity(items.len());
        for item in items {
            if let (Some(AttributeValue::S(id)), Some(AttributeValue::S(name))) =
                (item.get(attr::ID), item.get("name"))
            {
                names.insert(id.clone(), name.clone());
            }
        }
        Ok(names)
    }
}
