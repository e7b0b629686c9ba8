//! `Idempotency-Key` on the create routes, against DynamoDB Local.

mod common;

use common::TestApi;
use lambda_http::http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::auth::{generate_key, hash_key};
use shared::store::idempotency::Reservation;

fn epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn post_with_key(api: &TestApi, uri: &str, key: &str, body: Value) -> common::Reply {
    api.send(Method::POST, uri, Some(body), &[("idempotency-key", key)])
        .await
}

#[tokio::test]
async fn same_key_and_body_replays_the_first_answer_and_creates_once() {
    let api = TestApi::new().await;
    for (uri, body) in [
        (
            "/api/contacts",
            json!({"email": "idem@acme.com", "first_name": "I"}),
        ),
        ("/api/companies", json!({"name": "Idem Co"})),
    ] {
        let first = post_with_key(&api, uri, "key-1", body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
        // Same body, keys in another order: still the same request.
        let reordered: Value = serde_json::from_str(&body.to_string()).unwrap();
        let again = post_with_key(&api, uri, "key-1", reordered).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.body, first.body);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.headers["location"], first.headers["location"]);
        assert_eq!(again.headers.get("etag"), first.headers.get("etag"));
        let total = api.get(&format!("{uri}?limit=100")).await.data()["total"].clone();
        assert_eq!(total, 1, "{uri}");
    }
}

#[tokio::test]
async fn an_error_answer_is_replayed_too() {
    let api = TestApi::new().await;
    api.contact(json!({"email": "taken@acme.com"})).await;
    let first = post_with_key(
        &api,
        "/api/contacts",
        "dup",
        json!({"email": "taken@acme.com"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CONFLICT);
    let again = post_with_key(
        &api,
        "/api/contacts",
        "dup",
        json!({"email": "taken@acme.com"}),
    )
    .await;
    assert_eq!(
        (again.status, &again.body),
        (StatusCode::CONFLICT, &first.body)
    );
}

#[tokio::test]
async fn same_key_with_another_body_is_422_and_writes_nothing() {
    let api = TestApi::new().await;
    post_with_key(&api, "/api/contacts", "k", json!({"email": "a@acme.com"}))
        .await
        .data();
    let r = post_with_key(&api, "/api/contacts", "k", json!({"email": "b@acme.com"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_code(), "idempotency_key_reused");
    assert_eq!(api.total("").await, 1);
}

#[tokio::test]
async fn a_request_while_the_first_is_in_flight_is_409() {
    let api = TestApi::new().await;
    let body = json!({"email": "busy@acme.com"});
    let record = format!("{}#create-contact#busy", hash_key(&api.key));
    let hash = shared::idempotency::request_hash(body.to_string().as_bytes());
    let now = epoch();
    let reserved = api
        .app
        .store
        .reserve_idempotency_key(
            &record,
            &hash,
            "ct_01JZ0000000000000000000000",
            now,
            now + 30,
            now + 86_400,
        )
        .await
        .unwrap();
    assert_eq!(reserved, Reservation::Reserved);
    let r = post_with_key(&api, "/api/contacts", "busy", body).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "request_in_progress");
    let retry_after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(api.total("").await, 0);
}

#[tokio::test]
async fn a_retry_after_a_dead_attempt_reuses_its_id_and_never_duplicates() {
    let api = TestApi::new().await;
    let body = json!({"email": "crash@acme.com", "full_name": "Crash Test"});
    // The first attempt chose this id, wrote the contact, then died before
    // recording its answer; its lease has run out.
    let id = "ct_01JZ0000000000000000000001";
    let input = shared::validate::fields(
        body.as_object().unwrap().clone(),
        shared::fields::CONTACT_FIELDS,
        shared::validate::Mode::Create,
    )
    .unwrap();
    let contact =
        shared::contact::NewContact::from_input(&input, id.into(), "2026-01-01T00:00:00Z").unwrap();
    api.app.store.create_contact(&contact).await.unwrap();
    let record = format!("{}#create-contact#crash", hash_key(&api.key));
    let hash = shared::idempotency::request_hash(body.to_string().as_bytes());
    let now = epoch();
    api.app
        .store
        .reserve_idempotency_key(&record, &hash, id, now - 60, now - 30, now + 86_400)
        .await
        .unwrap();

    let r = post_with_key(&api, "/api/contacts", "crash", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.data()["id"], id);
    assert_eq!(r.data()["full_name"], "Crash Test");
    assert_eq!(api.total("").await, 1);
    let again = post_with_key(&api, "/api/contacts", "crash", body).await;
    assert_eq!(again.body, r.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
}

#[tokio::test]
async fn an_expired_record_no_longer_holds_its_key() {
    let api = TestApi::new().await;
    let record = format!("{}#create-company#old", hash_key(&api.key));
    let now = epoch();
    api.app
        .store
        .reserve_idempotency_key(
            &record,
            "other-body",
            "co_01JZ0000000000000000000000",
            now - 90_000,
            now - 89_970,
            now - 1,
        )
        .await
        .unwrap();
    let r = post_with_key(&api, "/api/companies", "old", json!({"name": "Fresh"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.data()["id"], "co_01JZ0000000000000000000000");
}

#[tokio::test]
async fn keys_are_scoped_to_the_api_key_and_checked() {
    let api = TestApi::new().await;
    let other = generate_key();
    api.app
        .store
        .put_api_key(&hash_key(&other), "other")
        .await
        .unwrap();
    let body = json!({"name": "Scoped"});
    let a = post_with_key(&api, "/api/companies", "shared-key", body.clone()).await;
    let b = api
        .send(
            Method::POST,
            "/api/companies",
            Some(body),
            &[("idempotency-key", "shared-key"), ("x-sm-key", &other)],
        )
        .await;
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_ne!(a.data()["id"], b.data()["id"]);
    let long = "k".repeat(256);
    let r = post_with_key(&api, "/api/companies", &long, json!({"name": "X"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["Idempotency-Key"]);
    assert_eq!(api.get("/api/companies").await.data()["total"], 2);
}

#[tokio::test]
async fn records_expire_through_dynamodb_ttl() {
    let api = TestApi::new().await;
    let ttl = api
        .app
        .store
        .client
        .describe_time_to_live()
        .table_name(&api.app.store.idempotency_table)
        .send()
        .await
        .unwrap();
    let desc = ttl.time_to_live_description.unwrap();
    assert_eq!(
        desc.attribute_name.as_deref(),
        Some(shared::store::idempotency::EXPIRES_AT)
    );
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_contact() {
    let api = TestApi::new().await;
    let body = json!({"email": "herd@acme.com"});
    let replies = futures::future::join_all(
        (0..20).map(|_| post_with_key(&api, "/api/contacts", "herd", body.clone())),
    )
    .await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    assert!(
        created.iter().all(|r| r.body == created[0].body),
        "every 201 is the same answer"
    );
    assert!(
        replies
            .iter()
            .all(|r| r.status == StatusCode::CREATED || r.error_code() == "request_in_progress")
    );
    assert_eq!(api.total("").await, 1);
}

#[tokio::test]
async fn an_attempt_whose_write_answer_was_lost_still_owns_the_key() {
    // The SDK retries a write whose answer it never saw; the retry then
    // fails its condition against the attempt's own write. Both the
    // reservation and a take-over must recognise that write as theirs.
    let api = TestApi::new().await;
    let store = &api.app.store;
    let record = format!("{}#create-contact#lost", hash_key(&api.key));
    let now = epoch();
    let reserve = |owner: &'static str| {
        store.reserve_idempotency_key(&record, "h", owner, now, now + 15, now + 86_400)
    };
    let first = "ct_01JZ0000000000000000000002";
    assert_eq!(reserve(first).await.unwrap(), Reservation::Reserved);
    let Reservation::Taken(rec) = reserve(first).await.unwrap() else {
        panic!("the record exists")
    };
    assert_eq!(rec.owner, first, "begin() runs it: the record is its own");

    // The lease runs out; a retry that drew a new id takes over, and its
    // repeated take-over (answer lost) still counts as its own.
    let retry = "ct_01JZ0000000000000000000003";
    for _ in 0..2 {
        assert!(
            store
                .take_over_idempotency_key(&record, now + 15, now + 30, retry)
                .await
                .unwrap()
        );
    }
    // Another attempt that read the old lease loses.
    let late = "ct_01JZ0000000000000000000004";
    assert!(
        !store
            .take_over_idempotency_key(&record, now + 15, now + 45, late)
            .await
            .unwrap()
    );
    let Reservation::Taken(rec) = reserve(late).await.unwrap() else {
        panic!("the record exists")
    };
    assert_eq!(rec.owner, retry);
    assert_eq!(rec.resource_id, first, "the resource id never changes");
}
