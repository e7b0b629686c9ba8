//! `/api/companies` handlers.

use lambda_http::Request;
use lambda_http::http::header;
use serde_json::json;

use crate::app::App;
use crate::company;
use crate::contact::text_attr;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::fields::COMPANY_FIELDS;
use crate::http::{json_body, paging, path_id};
use crate::idempotency;
use crate::ids::{self, COMPANY_PREFIX};
use crate::store::{Created, now};
use crate::validate::{self, Mode};

/// `POST /api/companies`: 201 with `{id, name}`.
pub async fn create_company(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let input = validate::fields(json_body(req)?, COMPANY_FIELDS, Mode::Create)?;
    let id = idempotency::resource_id(req, ids::new_company_id);
    let item = company::new_company(&input, &id, &now())?;
    let item = match app.store.create_company(item.clone()).await? {
        Created::New => item,
        // An earlier attempt of this request wrote it.
        Created::AlreadyExists => {
            idempotency::earlier_write(req, app.store.get_company(&id).await?, &item)?
        }
    };
    let name = text_attr(&item, "name").map(str::to_string);
    Ok(Reply::created(json!({ "id": id, "name": name }))
        .header(header::LOCATION, format!("/api/companies/{id}")))
}

/// `GET /api/companies/:id`.
pub async fn get_company(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let id = path_id(req, COMPANY_PREFIX, "company")?;
    let item = app
        .store
        .get_company(&id)
        .await?
        .ok_or(ApiError::NotFound("company"))?;
    Ok(Reply::ok(company::to_json(&item)))
}

/// `GET /api/companies`: page/limit like contacts, newest first.
pub async fn list_companies(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let mut errors = Vec::new();
    let paging = paging(req, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (items, total) = app.store.list_companies(paging.page, paging.limit).await?;
    Ok(Reply::ok(json!({
        "items": items.iter().map(company::to_json).collect::<Vec<_>>(),
        "total": total,
        "page": paging.page,
        "limit": paging.limit,
        "hasMore": paging.has_more(total),
    })))
}
