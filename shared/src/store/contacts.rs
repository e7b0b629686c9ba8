//! Contacts in DynamoDB: atomic creates that claim the email address,
//! conditional patches, and index queries for the list route.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update as TxUpdate,
};
use serde_json::json;

use super::expr::Placeholders;
use super::{
    Created, MAX_WRITE_ATTEMPTS, Store, backoff, busy, cancellation_codes, cancelled,
    failed_condition, in_transaction_conflict, now, worth_retrying,
};
use crate::contact::{
    Item, NewContact, PatchPlan, attr, email_claim_key, patch_needs_current, plan_patch, text_attr,
    version_of,
};
use crate::counts;
use crate::error::ApiError;
use crate::validate::Input;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn key(id: &str) -> Item {
    Item::from([(attr::ID.to_string(), s(id))])
}

fn build_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("building a DynamoDB request: {e}"))
}

fn unknown_company() -> ApiError {
    ApiError::field("company_id", "no company has this id")
}

/// What kept a patch from being written.
enum PatchFailure {
    /// The contact's own condition failed: it is gone, or changed since read.
    Contact,
    EmailTaken(String),
    CompanyMissing,
    /// Another transaction touched the same items; try again.
    Busy,
    Api(ApiError),
}

impl Store {
    /// One contact, read consistently so a client sees its own writes.
    pub async fn get_contact(&self, id: &str) -> Result<Option<Item>, ApiError> {
        self.get_consistent(&self.contacts_table, key(id)).await
    }

    /// Writes a new contact. When it has an email, the address is claimed in
    /// the same transaction, so two creates with one email cannot both win;
    /// a company id is checked in that transaction too, and the counters of
    /// the totals it adds to move in it, so totals stay exact.
    pub async fn create_contact(&self, contact: &NewContact) -> Result<Created, ApiError> {
        let mut ph = Placeholders::default();
        let not_exists = format!("attribute_not_exists({})", ph.name(attr::ID));
        let names = ph.names();

        let put_contact = Put::builder()
            .table_name(&self.contacts_table)
            .set_item(Some(contact.item.clone()))
            .condition_expression(&not_exists)
            .set_expression_attribute_names(names.clone())
            .build()
            .map_err(build_err)?;
        let mut tx = vec![TransactWriteItem::builder().put(put_contact).build()];
        let claim_at = contact.email_lc.as_ref().map(|lc| {
            let claim = Item::from([
                (attr::ID.to_string(), s(&email_claim_key(lc))),
                (attr::CONTACT_ID.to_string(), s(&contact.id)),
            ]);
            let put = Put::builder()
                .table_name(&self.contacts_table)
                .set_item(Some(claim))
                .condition_expression(&not_exists)
                .set_expression_attribute_names(names.clone())
                .build();
            tx.push(
                TransactWriteItem::builder()
                    .put(put.map_err(build_err)?)
                    .build(),
            );
            Ok::<_, ApiError>(tx.len() - 1)
        });
        let claim_at = claim_at.transpose()?;
        let company_at = match &contact.company_id {
            Some(company_id) => {
                tx.push(self.company_exists_check(company_id)?);
                Some(tx.len() - 1)
            }
            None => None,
        };
        let tallies: Vec<_> = counts::tallies_of(&contact.item)
            .into_iter()
            .map(|t| (t, 1))
            .collect();

        // Each attempt counts on a freshly picked shard, so writers that
        // collided on one spread out when they retry.
        let outcome = self
            .transact(|| {
                let mut items = tx.clone();
                items.extend(self.counter_adds(&tallies, counts::random_shard())?);
                Ok(items)
            })
            .await?;
        let Err(cancelled_tx) = outcome else {
            return Ok(Created::New);
        };
        if cancelled_tx.failed(Some(0)) {
            // The contact itself exists: an earlier attempt of this
            // request wrote it (and its claim).
            return Ok(Created::AlreadyExists);
        }
        if cancelled_tx.failed(claim_at) {
            return Err(self
                .duplicate_email(contact.email_lc.as_deref().unwrap_or_default())
                .await);
        }
        if cancelled_tx.failed(company_at) {
            return Err(unknown_company());
        }
        Err(cancelled(&cancelled_tx.0))
    }

    /// Applies a validated patch. Patches that only set or clear plain fields
    /// are one conditional `UpdateItem`, so concurrent patches of different
    /// fields all land. Patches that depend on the current contact (email,
    /// name parts) read it and write on condition that its version is
    /// unchanged, retrying when another write got in between.
    /// `if_match` makes the write conditional on the client's version (412).
    pub async fn update_contact(
        &self,
        id: &str,
        input: &Input,
        if_match: Option<u64>,
    ) -> Result<(), ApiError> {
        let write_id = ulid::Ulid::generate().to_string();
        for attempt in 0..MAX_WRITE_ATTEMPTS {
            let current = if patch_needs_current(input) {
                let item = self
                    .get_contact(id)
                    .await?
                    .ok_or(ApiError::NotFound("contact"))?;
                if if_match.is_some_and(|v| version_of(&item) != Some(v)) {
                    return Err(ApiError::PreconditionFailed);
                }
                Some(item)
            } else {
                None
            };
            let mut plan = plan_patch(input, current.as_ref(), if_match, &now())?;
            // Stamped with this request, and never applied twice by it.
            plan.update
                .set(attr::WRITE_ID, s(&write_id))
                .require_ne(attr::WRITE_ID, s(&write_id));
            match self.write_patch(id, &plan).await {
                Ok(()) => return Ok(()),
                Err(PatchFailure::Api(e)) => return Err(e),
                Err(PatchFailure::EmailTaken(lc)) => return Err(self.duplicate_email(&lc).await),
                Err(PatchFailure::CompanyMissing) => return Err(unknown_company()),
                Err(PatchFailure::Busy) => backoff(attempt).await,
                Err(PatchFailure::Contact) => {
                    let now_item = self
                        .get_contact(id)
                        .await?
                        .ok_or(ApiError::NotFound("contact"))?;
                    if text_attr(&now_item, attr::WRITE_ID) == Some(write_id.as_str()) {
                        // Our write landed; the SDK's retry of it is what failed.
                        return Ok(());
                    }
                    if if_match.is_some_and(|v| version_of(&now_item) != Some(v)) {
                        return Err(ApiError::PreconditionFailed);
                    }
                    // Changed between our read and our write: plan again from the new state.
                    backoff(attempt).await;
                }
            }
        }
        Err(busy())
    }

    async fn write_patch(&self, id: &str, plan: &PatchPlan) -> Result<(), PatchFailure> {
        let u = &plan.update;
        let expression = u.expression().unwrap_or_default();
        if plan.email_change.is_none()
            && plan.company_to_check.is_none()
            && plan.counter_moves.is_empty()
        {
            let result = self
                .client
                .update_item()
                .table_name(&self.contacts_table)
                .set_key(Some(key(id)))
                .update_expression(expression)
                .set_condition_expression(u.condition())
                .set_expression_attribute_names(u.ph.names())
                .set_expression_attribute_values(u.ph.values())
                .send()
                .await;
            return match result {
                Ok(_) => Ok(()),
                Err(e) if failed_condition(&e) => Err(PatchFailure::Contact),
                // A transaction (another patch, the enrichment job) holds the item.
                Err(e) if in_transaction_conflict(&e) => Err(PatchFailure::Busy),
                Err(e) => Err(PatchFailure::Api(e.into())),
            };
        }

        let update = TxUpdate::builder()
            .table_name(&self.contacts_table)
            .set_key(Some(key(id)))
            .update_expression(expression)
            .set_condition_expression(u.condition())
            .set_expression_attribute_names(u.ph.names())
            .set_expression_attribute_values(u.ph.values())
            .build()
            .map_err(|e| PatchFailure::Api(build_err(e)))?;
        let mut tx = vec![TransactWriteItem::builder().update(update).build()];
        let mut claim_at = None;
        if let Some((old, new)) = &plan.email_change {
            if let Some(old) = old {
                tx.push(self.release_claim(old, id).map_err(PatchFailure::Api)?);
            }
            if let Some(new) = new {
                tx.push(self.claim(new, id).map_err(PatchFailure::Api)?);
                claim_at = Some((tx.len() - 1, new.clone()));
            }
        }
        let company_at = match &plan.company_to_check {
            Some(c) => {
                tx.push(self.company_exists_check(c).map_err(PatchFailure::Api)?);
                Some(tx.len() - 1)
            }
            None => None,
        };
        tx.extend(
            self.counter_adds(&plan.counter_moves, counts::random_shard())
                .map_err(PatchFailure::Api)?,
        );
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(tx))
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(codes) = cancellation_codes(&err) else {
            return Err(PatchFailure::Api(err.into()));
        };
        let failed = |i: usize| codes.get(i).is_some_and(|c| c == "ConditionalCheckFailed");
        if failed(0) {
            return Err(PatchFailure::Contact);
        }
        if let Some((i, lc)) = claim_at
            && failed(i)
        {
            return Err(PatchFailure::EmailTaken(lc));
        }
        if company_at.is_some_and(failed) {
            return Err(PatchFailure::CompanyMissing);
        }
        if codes
            .iter()
            .any(|c| worth_retrying(c) || c == "ConditionalCheckFailed")
        {
            // A claim released by someone else meanwhile, a racing
            // transaction, or throttling.
            return Err(PatchFailure::Busy);
        }
        Err(PatchFailure::Api(cancelled(&codes)))
    }

    /// Claims `email_lc` for `contact_id` (the contact may already hold it).
    fn claim(&self, email_lc: &str, contact_id: &str) -> Result<TransactWriteItem, ApiError> {
        let mut ph = Placeholders::default();
        let condition = format!("attribute_not_exists({})", ph.name(attr::ID));
        let item = Item::from([
            (attr::ID.to_string(), s(&email_claim_key(email_lc))),
            (attr::CONTACT_ID.to_string(), s(contact_id)),
        ]);
        let put = Put::builder()
            .table_name(&self.contacts_table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(ph.names())
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Releases `email_lc`, on condition that `contact_id` holds it.
    fn release_claim(
        &self,
        email_lc: &str,
        contact_id: &str,
    ) -> Result<TransactWriteItem, ApiError> {
        let mut ph = Placeholders::default();
        let condition = format!(
            "{} = {}",
            ph.name(attr::CONTACT_ID),
            ph.value(s(contact_id))
        );
        let delete = Delete::builder()
            .table_name(&self.contacts_table)
            .set_key(Some(key(&email_claim_key(email_lc))))
            .condition_expression(condition)
            .set_expression_attribute_names(ph.names())
            .set_expression_attribute_values(ph.values())
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn company_exists_check(&self, company_id: &str) -> Result<TransactWriteItem, ApiError> {
        let mut ph = Placeholders::default();
        let check = ConditionCheck::builder()
            .table_name(&self.companies_table)
            .set_key(Some(key(company_id)))
            .condition_expression(format!("attribute_exists({})", ph.name(attr::ID)))
            .set_expression_attribute_names(ph.names())
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The 409 for an email another contact holds, naming that contact.
    async fn duplicate_email(&self, email_lc: &str) -> ApiError {
        let holder = self
            .get_consistent(&self.contacts_table, key(&email_claim_key(email_lc)))
            .await
            .ok()
            .flatten()
            .and_then(|i| i.get(attr::CONTACT_ID).and_then(|v| v.as_s().ok()).cloned());
        ApiError::Conflict {
            code: "duplicate_email",
            message: "a contact with this email already exists".into(),
            details: Some(json!({ "field": "email", "existing_id": holder })),
        }
    }
}
