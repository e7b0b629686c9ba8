//! `/api/contacts` handlers.

use lambda_http::Request;
use lambda_http::http::header;
use serde_json::json;

use crate::app::App;
use crate::contact::{self, NewContact, text_attr, version_of};
use crate::cursor::Cursor;
use crate::envelope::Reply;
use crate::error::{ApiError, FieldError};
use crate::fields::{CONTACT_FIELDS, CONTACT_TYPES, MAX_SEARCH_CHARS};
use crate::http::{etag, if_match, json_body, paging, path_id, query_param, query_param_raw};
use crate::idempotency;
use crate::ids::{self, CONTACT_PREFIX};
use crate::store::{Created, listing::ContactQuery, now};
use crate::validate::{self, Mode};

/// `GET /api/contacts`: filters, page/limit or cursor, totals, company names.
/// `data.next_cursor` continues the list at the cost of a first page.
pub async fn list_contacts(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let mut errors = Vec::new();
    let paging = paging(req, &mut errors);
    let mut query = contact_query(req, paging.page, paging.limit, &mut errors);
    if let Some(text) = query_param(req, "cursor") {
        if query_param(req, "page").is_some() {
            errors.push(FieldError::new(
                "cursor",
                "send either page or cursor, not both",
            ));
        } else {
            match Cursor::decode(&text, &query.fingerprint()) {
                Ok(cursor) => query.cursor = Some(cursor),
                Err(ApiError::Validation(mut e)) => errors.append(&mut e),
                Err(e) => return Err(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let page = app.store.list_contacts(&query).await?;
    let names = app
        .store
        .company_names(page.items.iter().filter_map(|i| text_attr(i, "company_id")))
        .await?;
    let items: Vec<_> = page
        .items
        .iter()
        .map(|i| {
            contact::summary_json(
                i,
                text_attr(i, "company_id")
                    .and_then(|c| names.get(c))
                    .map(String::as_str),
            )
        })
        .collect();
    let fingerprint = query.fingerprint();
    Ok(Reply::ok(json!({
        "items": items,
        "total": page.total,
        "page": page.offset / paging.limit as usize + 1,
        "limit": paging.limit,
        "hasMore": page.offset + items.len() < page.total,
        "next_cursor": page.next.map(|c| c.encode(&fingerprint)),
    })))
}

/// Reads the list filters, adding each bad one to `errors`.
fn contact_query(
    req: &Request,
    page: u32,
    limit: u32,
    errors: &mut Vec<FieldError>,
) -> ContactQuery {
    let company_id = query_param_raw(req, "company_id").and_then(|c| {
        let parsed = ids::parse(ids::COMPANY_PREFIX, &c);
        if parsed.is_none() {
            errors.push(FieldError::new("company_id", "must be a company id (co_…)"));
        }
        parsed
    });
    let contact_type = query_param_raw(req, "type");
    if let Some(t) = &contact_type
        && !CONTACT_TYPES.contains(&t.as_str())
    {
        errors.push(FieldError::new(
            "type",
            format!("must be one of {}", CONTACT_TYPES.join(", ")),
        ));
    }
    let source = query_param(req, "source");
    if source.as_ref().is_some_and(|s| s.chars().count() > 100) {
        errors.push(FieldError::new("source", "must be at most 100 characters"));
    }
    let search = query_param(req, "search").map(|s| s.to_lowercase());
    if search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
    {
        errors.push(FieldError::new(
            "search",
            format!("must be at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    ContactQuery {
        company_id,
        contact_type,
        source,
        search,
        page,
        limit,
        cursor: None,
    }
}

/// `GET /api/contacts/:id`: the whole contact with `company_name`, and its
/// version as `ETag`.
pub async fn get_contact(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let id = path_id(req, CONTACT_PREFIX, "contact")?;
    let item = app
        .store
        .get_contact(&id)
        .await?
        .ok_or(ApiError::NotFound("contact"))?;
    let company_name = match text_attr(&item, "company_id") {
        Some(company_id) => app
            .store
            .get_company(company_id)
            .await?
            .and_then(|c| text_attr(&c, "name").map(str::to_string)),
        None => None,
    };
    let reply = Reply::ok(contact::to_json(&item, company_name.as_deref()));
    Ok(match version_of(&item) {
        Some(v) => reply.header(header::ETAG, etag(v)),
        None => reply,
    })
}

/// `POST /api/contacts`: 201 with `{id, full_name, email}`.
pub async fn create_contact(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let input = validate::fields(json_body(req)?, CONTACT_FIELDS, Mode::Create)?;
    let id = idempotency::resource_id(req, ids::new_contact_id);
    let contact = NewContact::from_input(&input, id, &now())?;
    let stored = match app.store.create_contact(&contact).await? {
        Created::New => contact.item,
        // An earlier attempt of this request wrote it: answer as it would have.
        Created::AlreadyExists => idempotency::earlier_write(
            req,
            app.store.get_contact(&contact.id).await?,
            &contact.item,
        )?,
    };
    Ok(Reply::created(json!({
        "id": contact.id,
        "full_name": text_attr(&stored, "full_name"),
        "email": text_attr(&stored, "email"),
    }))
    .header(header::LOCATION, format!("/api/contacts/{}", contact.id))
    .header(header::ETAG, etag(version_of(&stored).unwrap_or(1))))
}

/// `PATCH /api/contacts/:id`: any subset of the patchable fields.
pub async fn update_contact(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let id = path_id(req, CONTACT_PREFIX, "contact")?;
    let input = validate::fields(json_body(req)?, CONTACT_FIELDS, Mode::Patch)?;
    if input.is_empty() {
        return Err(ApiError::BadRequest(
            "the body names no field to update".into(),
        ));
    }
    let if_match = if_match(req)?;
    app.store.update_contact(&id, &input, if_match).await?;
    Ok(Reply::ok(json!({ "id": id, "updated": true })))
}
