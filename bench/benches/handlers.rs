//! The handlers' own CPU work with DynamoDB taken out: reading and
//! validating a body, building the item or the update, and serialising
//! the envelope.

use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;

use lambda_http::{Body, Request, RequestExt};
use serde_json::{Value, json};
use shared::contact::{self, NewContact, plan_patch};
use shared::envelope::Reply;
use shared::fields::{COMPANY_FIELDS, CONTACT_FIELDS};
use shared::http::json_body;
use shared::validate::{self, Mode};
use shared::{company, cursor};

fn body_request(body: &Value) -> Request {
    let mut req = Request::new(Body::Text(body.to_string()));
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    req
}

fn create_body() -> Value {
    json!({
        "email": "Jane.Smith@Acme.com", "first_name": "Jane", "last_name": "Smith",
        "company_id": "co_01JZ0000000000000000000000", "contact_type": "client",
        "source": "web", "title": "CTO", "phone": "+1 555 0100",
        "linkedin_url": "https://www.linkedin.com/in/janesmith", "tags": "vip,board",
        "notes": "Met at the conference.", "portal_access": 1, "portal_role": "client_admin",
    })
}

fn handlers(c: &mut Criterion) {
    let now = "2026-12-03T10:00:00.000Z";
    let create = body_request(&create_body());
    c.bench_function("create: parse, validate, build item, serialise", |b| {
        b.iter(|| {
            let input = validate::fields(json_body(&create).unwrap(), CONTACT_FIELDS, Mode::Create)
                .unwrap();
            let contact =
                NewContact::from_input(&input, "ct_01JZ0000000000000000000000".into(), now)
                    .unwrap();
            Reply::created(json!({"id": contact.id, "email": "x"})).into_response()
        })
    });

    let patch = body_request(&json!({"title": "VP", "phone": null, "notes": "n"}));
    c.bench_function("patch: parse, validate, plan update, serialise", |b| {
        b.iter(|| {
            let input =
                validate::fields(json_body(&patch).unwrap(), CONTACT_FIELDS, Mode::Patch).unwrap();
            let plan = plan_patch(&input, None, None, now).unwrap();
            (
                plan,
                Reply::ok(json!({"id": "ct_x", "updated": true})).into_response(),
            )
        })
    });

    let input = validate::fields(
        create_body().as_object().cloned().unwrap(),
        CONTACT_FIELDS,
        Mode::Create,
    )
    .unwrap();
    let item = NewContact::from_input(&input, "ct_01JZ0000000000000000000000".into(), now)
        .unwrap()
        .item;
    c.bench_function("get: item to JSON, serialise", |b| {
        b.iter(|| Reply::ok(contact::to_json(&item, Some("Acme"))).into_response())
    });

    let list_req = Request::new(Body::Empty).with_query_string_parameters(HashMap::from([
        ("limit".to_string(), "25".to_string()),
        ("type".to_string(), "lead".to_string()),
    ]));
    let fingerprint = cursor::fingerprint(&[None, Some("lead"), None, None]);
    let next = cursor::Cursor {
        after_id: "ct_01JZ0000000000000000000000".into(),
        offset: 250,
    }
    .encode(&fingerprint);
    c.bench_function("list query: paging, filters, cursor decode", |b| {
        b.iter(|| {
            let mut errors = Vec::new();
            let paging = shared::http::paging(&list_req, &mut errors);
            let cursor = cursor::Cursor::decode(&next, &fingerprint).unwrap();
            (paging, cursor, errors)
        })
    });

    let page: Vec<_> = (0..25).map(|_| item.clone()).collect();
    c.bench_function("list: 25 summaries to JSON, serialise", |b| {
        b.iter(|| {
            let items: Vec<_> = page
                .iter()
                .map(|i| contact::summary_json(i, Some("Acme")))
                .collect();
            Reply::ok(
                json!({"items": items, "total": 1000, "page": 1, "limit": 25, "hasMore": true}),
            )
            .into_response()
        })
    });

    let company_body = body_request(&json!({"name": "Acme Corp", "domain": "Acme.com"}));
    c.bench_function(
        "create company: parse, validate, build item, serialise",
        |b| {
            b.iter(|| {
                let input = validate::fields(
                    json_body(&company_body).unwrap(),
                    COMPANY_FIELDS,
                    Mode::Create,
                )
                .unwrap();
                let item =
                    company::new_company(&input, "co_01JZ0000000000000000000000", now).unwrap();
                Reply::created(json!({"id": "co_01JZ0000000000000000000000", "name": "Acme Corp"}))
                    .into_response();
                item
            })
        },
    );
    let company_item = company::new_company(
        &validate::fields(
            json!({"name": "Acme Corp", "domain": "acme.com"})
                .as_object()
                .cloned()
                .unwrap(),
            COMPANY_FIELDS,
            Mode::Create,
        )
        .unwrap(),
        "co_01JZ0000000000000000000000",
        now,
    )
    .unwrap();
    c.bench_function("get company: item to JSON, serialise", |b| {
        b.iter(|| Reply::ok(company::to_json(&company_item)).into_response())
    });
}

criterion_group!(benches, handlers);
criterion_main!(benches);
