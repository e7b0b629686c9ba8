//! The list route's reads, built so a page costs the same at any table size:
//!
//! * no filter or one filter: `Query` the matching index for just the page
//!   (`Limit`, starting after the cursor's contact) and read the exact total
//!   from the sharded counters, both at once;
//! * several filters: the filter whose counter is smallest drives the
//!   `Query`, the others filter its entries; the total is counted by
//!   reading that whole (smallest) set;
//! * search alone: the slim `by_search` index (keys and the search copy, at
//!   most 128 bytes a contact) is read whole with a `contains` filter to
//!   count matches, then the page's contacts are fetched with one
//!   `BatchGetItem`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::expr::Placeholders;
use super::{PageQuery, Store, index};
use crate::contact::{CONTACT_ENTITY, Item, attr, summary_attrs, text_attr};
use crate::counts::Tally;
use crate::cursor::{self, Cursor};
use crate::error::ApiError;
use crate::search;

/// Filters and position of `GET /api/contacts`, already checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactQuery {
    pub company_id: Option<String>,
    pub contact_type: Option<String>,
    pub source: Option<String>,
    /// Lower-cased search text.
    pub search: Option<String>,
    pub page: u32,
    pub limit: u32,
    /// Where to continue; when set, `page` is ignored.
    pub cursor: Option<Cursor>,
}

/// One page of a contact list.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage {
    pub items: Vec<Item>,
    /// How many contacts match in all.
    pub total: usize,
    /// How many matching contacts come before this page.
    pub offset: usize,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// One equality filter and the index keyed by it.
struct Filter<'a> {
    tally: Tally,
    index: &'static str,
    attr: &'static str,
    value: &'a str,
}

impl ContactQuery {
    /// Identifies the filter set, so a cursor only continues its own list.
    pub fn fingerprint(&self) -> String {
        cursor::fingerprint(&[
            self.company_id.as_deref(),
            self.contact_type.as_deref(),
            self.source.as_deref(),
            self.search.as_deref(),
        ])
    }

    fn filters(&self) -> Vec<Filter<'_>> {
        let mut out = Vec::new();
        if let Some(c) = &self.company_id {
            out.push(Filter {
                tally: Tally::Company(c.clone()),
                index: index::BY_COMPANY,
                attr: "company_id",
                value: c,
            });
        }
        if let Some(t) = &self.contact_type {
            out.push(Filter {
                tally: Tally::Type(t.clone()),
                index: index::BY_TYPE,
                attr: "contact_type",
                value: t,
            });
        }
        if let Some(s) = &self.source {
            out.push(Filter {
                tally: Tally::Source(s.clone()),
                index: index::BY_SOURCE,
                attr: "source",
                value: s,
            });
        }
        out
    }

    /// Matching contacts before the page: the cursor's count, else the page's.
    fn offset(&self) -> usize {
        match &self.cursor {
            Some(c) => c.offset,
            None => (self.page.max(1) as usize - 1) * self.limit as usize,
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// Where to start a `Query` of `index_attr = value` after contact `id`.
fn start_key(index_attr: &str, value: &str, id: &str) -> Item {
    Item::from([
        (attr::ID.to_string(), s(id)),
        (index_attr.to_string(), s(value)),
    ])
}

/// The page of a full pass over a matching set, newest first.
struct Window {
    items: Vec<Item>,
    matched: usize,
}

impl Window {
    fn new() -> Self {
        Window {
            items: Vec::new(),
            matched: 0,
        }
    }

    /// Counts `item`, keeping it when it belongs to the page of `q`.
    fn offer(&mut self, item: Item, q: &ContactQuery) {
        let keep = match &q.cursor {
            Some(c) => text_attr(&item, attr::ID).is_some_and(|id| id < c.after_id.as_str()),
            None => self.matched >= q.offset(),
        };
        if keep && self.items.len() < q.limit as usize {
            self.items.push(item);
        }
        self.matched += 1;
    }
}

impl Store {
    /// A page of contacts matching `q`, newest first, with the exact total.
    pub async fn list_contacts(&self, q: &ContactQuery) -> Result<ContactPage, ApiError> {
        let filters = q.filters();
        let offset = q.offset();
        let (items, total) = if q.search.is_none() && filters.len() <= 1 {
            self.list_by_one_key(q, filters.first()).await?
        } else if filters.is_empty() {
            self.search_all(q).await?
        } else {
            self.list_by_smallest_filter(q, &filters).await?
        };
        let shown = offset + items.len();
        let next = (shown < total)
            .then(|| text_attr(items.last()?, attr::ID).map(str::to_string))
            .flatten()
            .map(|after_id| Cursor {
                after_id,
                offset: shown,
            });
        Ok(ContactPage {
            items,
            total,
            offset,
            next,
        })
    }

    /// No filter or one: read only the page from the index (plus, for
    /// `page` N, the pages before it) and the total from the counters.
    async fn list_by_one_key(
        &self,
        q: &ContactQuery,
        filter: Option<&Filter<'_>>,
    ) -> Result<(Vec<Item>, usize), ApiError> {
        let (tally, index, key_attr, key_value) = match filter {
            Some(f) => (f.tally.clone(), f.index, f.attr, f.value),
            None => (Tally::All, index::BY_CREATED, attr::ENTITY, CONTACT_ENTITY),
        };
        let tallies = [tally.clone()];
        let total_of =
            |totals: HashMap<Tally, u64>| totals.get(&tally).copied().unwrap_or(0) as usize;
        if q.cursor.is_none() && q.offset() > 0 {
            // `page` N skips what comes before it: first make sure there is
            // something to skip to, so `?page=4000000000` reads nothing.
            let total = total_of(self.totals(&tallies).await?);
            if q.offset() >= total {
                return Ok((Vec::new(), total));
            }
            return Ok((self.read_page(q, index, key_attr, key_value).await?, total));
        }
        let (items, totals) = tokio::try_join!(
            self.read_page(q, index, key_attr, key_value),
            self.totals(&tallies)
        )?;
        Ok((items, total_of(totals)))
    }

    /// Queries `key_attr = key_value` newest first, asking for no more
    /// entries than the page needs: after the cursor's contact, or after
    /// skipping the pages before `page` (which costs what reading them does).
    async fn read_page(
        &self,
        q: &ContactQuery,
        index: &str,
        key_attr: &str,
        key_value: &str,
    ) -> Result<Vec<Item>, ApiError> {
        let attrs = summary_attrs();
        self.query_page(PageQuery {
            table: &self.contacts_table,
            index,
            key_attr,
            key_value,
            projection: Some(&attrs),
            after: q
                .cursor
                .as_ref()
                .map(|c| start_key(key_attr, key_value, &c.after_id)),
            skip: if q.cursor.is_some() { 0 } else { q.offset() },
            limit: q.limit as usize,
        })
        .await
    }

    /// Several filters: the one with the fewest contacts (by its counter)
    /// drives the query; the others and any search filter its entries.
    /// The total is counted by reading that whole set.
    async fn list_by_smallest_filter(
        &self,
        q: &ContactQuery,
        filters: &[Filter<'_>],
    ) -> Result<(Vec<Item>, usize), ApiError> {
        let tallies: Vec<Tally> = filters.iter().map(|f| f.tally.clone()).collect();
        let totals = self.totals(&tallies).await?;
        let count = |f: &Filter| totals.get(&f.tally).copied().unwrap_or(0);
        let Some(driver) = filters.iter().min_by_key(|f| count(f)) else {
            return Ok((Vec::new(), 0));
        };
        if count(driver) == 0 {
            return Ok((Vec::new(), 0));
        }
        let mut ph = Placeholders::default();
        let key_condition = format!("{} = {}", ph.name(driver.attr), ph.value(s(driver.value)));
        let mut conditions: Vec<String> = filters
            .iter()
            .filter(|f| f.attr != driver.attr)
            .map(|f| format!("{} = {}", ph.name(f.attr), ph.value(s(f.value))))
            .collect();
        conditions.extend(search_condition(&mut ph, q.search.as_deref()));
        let projection = ph.projection(&summary_attrs());
        let query = self
            .client
            .query()
            .table_name(&self.contacts_table)
            .index_name(driver.index)
            .key_condition_expression(key_condition)
            .set_filter_expression((!conditions.is_empty()).then(|| conditions.join(" AND ")))
            .projection_expression(projection)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .scan_index_forward(false);
        let window = self.full_pass(query, q).await?;
        Ok((window.items, window.matched))
    }

    /// Search alone: reads the slim `by_search` index whole (at most 128
    /// bytes a contact, see [`crate::search`]) to count matches, then fetches
    /// the page's contacts. DynamoDB's filter keeps entries whose copy
    /// contains the text and those whose copy was cut; the copy decides the
    /// first exactly, the full fields (one batched read) the few others.
    async fn search_all(&self, q: &ContactQuery) -> Result<(Vec<Item>, usize), ApiError> {
        let text = q.search.as_deref().unwrap_or_default();
        let mut ph = Placeholders::default();
        let key_condition = format!(
            "{} = {}",
            ph.name(attr::ENTITY),
            ph.value(s(CONTACT_ENTITY))
        );
        let filter = format!(
            "contains({}, {}) OR attribute_exists({})",
            ph.name(search::COPY),
            ph.value(s(text)),
            ph.name(search::CUT)
        );
        let projection = ph.projection(&[attr::ID, search::COPY, search::CUT]);
        let query = self
            .client
            .query()
            .table_name(&self.contacts_table)
            .index_name(index::BY_SEARCH)
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .projection_expression(projection)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .scan_index_forward(false);
        // Newest first: (id, Some(verdict)), or None until the fields tell.
        let mut candidates: Vec<(String, Option<bool>)> = Vec::new();
        let mut start = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await?;
            for entry in out.items.unwrap_or_default() {
                let Some(id) = text_attr(&entry, attr::ID) else {
                    continue;
                };
                let copy = text_attr(&entry, search::COPY).unwrap_or_default();
                let cut = entry.contains_key(search::CUT);
                let verdict = search::copy_matches(copy, cut, text);
                if verdict != Some(false) {
                    candidates.push((id.to_string(), verdict));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let undecided: Vec<Item> = candidates
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(id, _)| Item::from([(attr::ID.to_string(), s(id))]))
            .collect();
        let decided: HashMap<String, bool> = self
            .batch_get(
                &self.contacts_table,
                undecided,
                Some(&[attr::ID, attr::NAME_LC, attr::EMAIL_LC]),
                false,
            )
            .await?
            .iter()
            .filter_map(|i| {
                let verdict = search::fields_match(
                    text_attr(i, attr::NAME_LC),
                    text_attr(i, attr::EMAIL_LC),
                    text,
                );
                Some((text_attr(i, attr::ID)?.to_string(), verdict))
            })
            .collect();
        let mut window = Window::new();
        for (id, verdict) in candidates {
            if verdict.or_else(|| decided.get(&id).copied()) == Some(true) {
                window.offer(Item::from([(attr::ID.to_string(), s(&id))]), q);
            }
        }
        let ids: Vec<String> = window
            .items
            .iter()
            .filter_map(|i| text_attr(i, attr::ID).map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Ok((Vec::new(), window.matched));
        }
        let keys = ids
            .iter()
            .map(|id| Item::from([(attr::ID.to_string(), s(id))]))
            .collect();
        let found = self
            .batch_get(&self.contacts_table, keys, Some(&summary_attrs()), false)
            .await?;
        let mut by_id: HashMap<String, Item> = found
            .into_iter()
            .filter_map(|i| Some((text_attr(&i, attr::ID)?.to_string(), i)))
            .collect();
        let items = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        Ok((items, window.matched))
    }

    /// Runs `query` through every page, counting matches and keeping the
    /// page `q` asks for.
    async fn full_pass(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        q: &ContactQuery,
    ) -> Result<Window, ApiError> {
        let mut window = Window::new();
        let mut start = None;
        loop {
            let out = query.clone().set_exclusive_start_key(start).send().await?;
            for item in out.items.unwrap_or_default() {
                window.offer(item, q);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(window);
            }
        }
    }
}

/// `contains(name_lc, :text) OR contains(email_lc, :text)`, through placeholders.
fn search_condition(ph: &mut Placeholders, search: Option<&str>) -> Option<String> {
    let text = search?;
    let v = ph.value(s(text));
    Some(format!(
        "(contains({}, {v}) OR contains({}, {v}))",
        ph.name(attr::NAME_LC),
        ph.name(attr::EMAIL_LC)
    ))
}
