//! Companies in DynamoDB.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::expr::Placeholders;
use super::{Created, PageQuery, Store, cancelled, index};
use crate::company::COMPANY_ENTITY;
use crate::contact::{Item, attr};
use crate::counts::{self, Tally};
use crate::error::ApiError;

fn key(id: &str) -> Item {
    Item::from([(attr::ID.to_string(), AttributeValue::S(id.to_string()))])
}

impl Store {
    /// Writes a new company and counts it, in one transaction: the total of
    /// companies stays exact, and the SDK's retry of a transaction whose
    /// answer was lost (same client token) does not write or count twice.
    pub async fn create_company(&self, item: Item) -> Result<Created, ApiError> {
        let mut ph = Placeholders::default();
        let put = Put::builder()
            .table_name(&self.companies_table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({})", ph.name(attr::ID)))
            .set_expression_attribute_names(ph.names())
            .build()
            .map_err(|e| ApiError::Internal(format!("building a company put: {e}")))?;
        let outcome = self
            .transact(|| {
                let mut items = vec![TransactWriteItem::builder().put(put.clone()).build()];
                items.extend(self.counter_adds_in(
                    &self.companies_table,
                    &[(Tally::Companies, 1)],
                    counts::random_shard(),
                )?);
                Ok(items)
            })
            .await?;
        match outcome {
            Ok(()) => Ok(Created::New),
            Err(c) if c.failed(Some(0)) => Ok(Created::AlreadyExists),
            Err(c) => Err(cancelled(&c.0)),
        }
    }

    pub async fn get_company(&self, id: &str) -> Result<Option<Item>, ApiError> {
        self.get_consistent(&self.companies_table, key(id)).await
    }

    /// A page of companies, newest first, and how many there are in all
    /// (from the counter, so a page costs the same at any table size).
    pub async fn list_companies(
        &self,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<Item>, usize), ApiError> {
        let skip = (page as usize - 1) * limit as usize;
        let tallies = [Tally::Companies];
        let total =
            |t: HashMap<Tally, u64>| t.get(&Tally::Companies).copied().unwrap_or(0) as usize;
        let read = self.query_page(PageQuery {
            table: &self.companies_table,
            index: index::BY_CREATED,
            key_attr: attr::ENTITY,
            key_value: COMPANY_ENTITY,
            projection: None,
            after: None,
            skip,
            limit: limit as usize,
        });
        if skip == 0 {
            let (items, totals) =
                tokio::try_join!(read, self.totals_in(&self.companies_table, &tallies))?;
            return Ok((items, total(totals)));
        }
        // Page N skips what comes before it: only when there is something there.
        let total = total(self.totals_in(&self.companies_table, &tallies).await?);
        if skip >= total {
            return Ok((Vec::new(), total));
        }
        Ok((read.await?, total))
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
