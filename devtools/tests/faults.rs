//! DynamoDB faults through a fault-injecting proxy in front of DynamoDB
//! Local: 30% of DynamoDB requests are throttled or fail with a 500. A run of
//! 1,000 creates with idempotency keys, retried by the client, must end with
//! exactly 1,000 contacts, no duplicates and no 500s. The client behaves as
//! a well-made one does: it retries 503s and `request_in_progress` 409s
//! after the `Retry-After` the API sends, within a time budget.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use devtools::faultproxy::{FaultProxy, Faults};
use devtools::template::{Template, default_path};
use devtools::{local_app, server};
use futures::{FutureExt, StreamExt};
use lambda_http::http::{Request, StatusCode};
use serde_json::{Value, json};
use shared::App;
use shared::auth::generate_key;
use tower::ServiceExt;

const CREATES: usize = 1_000;
const FAULT_PERCENT: u64 = 30;
/// How long the client keeps retrying one create: several idempotency
/// leases, so a key left held by a failed attempt is always won back.
const CLIENT_BUDGET: Duration = Duration::from_secs(90);

/// One create: its number, the id it got (if any), and each request's
/// status and duration in milliseconds.
type Outcome = (usize, Option<String>, Vec<(u16, u128)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_faults_lose_nothing_duplicate_nothing_and_never_500() {
    let config = common::local_config();
    let key = generate_key();
    let direct = local_app(config.clone(), &key).await.unwrap();
    let proxy = FaultProxy::start(
        config.dynamodb_endpoint.as_deref().unwrap(),
        FAULT_PERCENT,
        42,
    )
    .await
    .unwrap();
    let mut faulty_config = config.clone();
    faulty_config.dynamodb_endpoint = Some(proxy.endpoint.clone());
    let faulty = Arc::new(App::new(faulty_config));
    let router = server::router(faulty, Template::load(&default_path()).unwrap().routes()).unwrap();

    let outcomes: Vec<Outcome> = futures::stream::iter(0..CREATES)
        .map(|i| {
            let (router, key) = (router.clone(), key.clone());
            async move {
                let body =
                    json!({"email": format!("fault-{i}@acme.com"), "first_name": format!("F{i}")})
                        .to_string();
                let mut statuses = Vec::new();
                let started = std::time::Instant::now();
                while started.elapsed() < CLIENT_BUDGET {
                    let req = Request::post("/api/contacts")
                        .header("x-sm-key", &key)
                        .header("content-type", "application/json")
                        .header("idempotency-key", format!("create-{i}"))
                        .body(axum::body::Body::from(body.clone()))
                        .unwrap();
                    let sent = std::time::Instant::now();
                    let resp = router.clone().oneshot(req).await.unwrap();
                    let took_ms = sent.elapsed().as_millis();
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    let v: Value = serde_json::from_slice(&bytes).unwrap();
                    statuses.push((status.as_u16(), took_ms));
                    match status {
                        StatusCode::CREATED => {
                            return (i, v["data"]["id"].as_str().map(str::to_string), statuses);
                        }
                        StatusCode::SERVICE_UNAVAILABLE => {}
                        StatusCode::CONFLICT if v["error"]["code"] == "request_in_progress" => {
                            assert!(
                                retry_after.is_some(),
                                "a 409 in progress says when to retry"
                            );
                        }
                        _ => return (i, None, statuses),
                    }
                    let wait = retry_after.map_or(Duration::from_millis(100), Duration::from_secs);
                    tokio::time::sleep(wait).await;
                }
                (i, None, statuses)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;

    let answered: Vec<u16> = outcomes
        .iter()
        .flat_map(|(_, _, s)| s.iter().map(|(status, _)| *status))
        .collect();
    let ids: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, id, _)| id.as_ref())
        .collect();
    let unique: HashSet<_> = ids.iter().collect();
    let (stored_contacts, stored_claims) = count_items(&direct).await;
    let summary = json!({
        "creates": CREATES,
        "http_requests": answered.len(),
        "dynamodb_requests": proxy.stats.requests.load(Ordering::Relaxed),
        "faults_injected": proxy.stats.throttled.load(Ordering::Relaxed) + proxy.stats.server_errors.load(Ordering::Relaxed),
        "throttled": proxy.stats.throttled.load(Ordering::Relaxed),
        "dynamodb_500s": proxy.stats.server_errors.load(Ordering::Relaxed),
        "answered_503": answered.iter().filter(|s| **s == 503).count(),
        "answered_500": answered.iter().filter(|s| **s == 500).count(),
        "answered_401": answered.iter().filter(|s| **s == 401).count(),
        "answered_409_in_progress": answered.iter().filter(|s| **s == 409).count(),
        "contacts_stored": stored_contacts,
        "contacts_lost": CREATES.saturating_sub(stored_contacts),
        "contacts_duplicated": stored_contacts.saturating_sub(CREATES),
    });
    println!("RELIABILITY {summary}");
    let mut failed = Vec::new();
    for (i, _, statuses) in outcomes.iter().filter(|(_, id, _)| id.is_none()) {
        // What the key's record says, so a failure explains itself.
        let record_key = format!("{}#create-contact#create-{i}", shared::auth::hash_key(&key));
        let record = direct.store.idempotency_record(&record_key).await;
        failed.push(format!(
            "create-{i}: (status, ms) {statuses:?}; record now {record:?}"
        ));
    }
    assert!(
        failed.is_empty(),
        "requests that never got a 201: {failed:?}"
    );
    assert_eq!(summary["answered_500"], 0, "{summary}");
    assert_eq!(
        unique.len(),
        CREATES,
        "every create answered with its own id"
    );
    assert_eq!(
        (stored_contacts, stored_claims),
        (CREATES, CREATES),
        "{summary}"
    );
    assert!(
        summary["faults_injected"].as_u64().unwrap() > 0,
        "the proxy injected faults"
    );
    let totals = direct
        .store
        .totals(&[shared::counts::Tally::All])
        .await
        .unwrap();
    assert_eq!(
        totals[&shared::counts::Tally::All] as usize,
        CREATES,
        "the total counts each contact once"
    );
}

/// Contacts and email claims in the table, counted by a (test-only) scan.
async fn count_items(app: &App) -> (usize, usize) {
    let (mut contacts, mut claims, mut start) = (0, 0, None);
    loop {
        let page = app
            .store
            .client
            .scan()
            .table_name(&app.store.contacts_table)
            .projection_expression("#id")
            .expression_attribute_names("#id", "id")
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let id = item["id"].as_s().unwrap();
            if id.starts_with("ct_") {
                contacts += 1;
            } else if id.starts_with("email#") {
                claims += 1;
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return (contacts, claims);
        }
    }
}

/// Answers lost after DynamoDB applied the write (the SDK then sends it
/// again): creates without an `Idempotency-Key`, patches with and without
/// `If-Match`, and email moves must still answer as the write did: no 500,
/// no wrong 412, no contact written twice, no version bumped twice, and
/// totals that match the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_whose_answers_are_lost_are_neither_failed_nor_doubled() {
    const CONTACTS: usize = 120;
    let config = common::local_config();
    let key = generate_key();
    let direct = local_app(config.clone(), &key).await.unwrap();
    let faults = Faults {
        lost_answer_percent: 25,
        ..Faults::default()
    };
    let proxy = FaultProxy::start_with(config.dynamodb_endpoint.as_deref().unwrap(), faults, 7)
        .await
        .unwrap();
    let mut faulty_config = config.clone();
    faulty_config.dynamodb_endpoint = Some(proxy.endpoint.clone());
    let faulty = Arc::new(App::new(faulty_config));
    let router = server::router(faulty, Template::load(&default_path()).unwrap().routes()).unwrap();
    let send = |method: &str, uri: String, body: Value, headers: Vec<(&'static str, String)>| {
        let (router, key) = (router.clone(), key.clone());
        let method = method.to_string();
        async move {
            let mut req = Request::builder()
                .method(method.as_str())
                .uri(uri)
                .header("x-sm-key", &key)
                .header("content-type", "application/json");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let req = req.body(axum::body::Body::from(body.to_string())).unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
        .boxed()
    };
    let company = direct
        .store
        .create_company(
            shared::company::new_company(
                &shared::validate::fields(
                    json!({"name": "Lost Co"}).as_object().unwrap().clone(),
                    shared::fields::COMPANY_FIELDS,
                    shared::validate::Mode::Create,
                )
                .unwrap(),
                "co_01JZ0000000000000000000009",
                "2026-01-01T00:00:00Z",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(company, shared::store::Created::New);

    // Creates with no Idempotency-Key: each is one request, never retried.
    let created: Vec<(u16, Value)> = futures::stream::iter(0..CONTACTS)
        .map(|i| {
            let mut body = json!({"email": format!("lost-{i}@acme.com"), "first_name": "L"});
            if i % 2 == 0 {
                body["company_id"] = json!("co_01JZ0000000000000000000009");
            }
            send("POST", "/api/contacts".into(), body, vec![])
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let companies: Vec<(u16, Value)> = futures::stream::iter(0..30)
        .map(|i| {
            send(
                "POST",
                "/api/companies".into(),
                json!({"name": format!("C{i}")}),
                vec![],
            )
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ids: Vec<String> = created
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, v)| v["data"]["id"].as_str().unwrap().to_string())
        .collect();

    // Patches: with the ETag just read (a lost answer must not turn into a
    // 412), without If-Match, and moving the email.
    let mut patched = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let before = direct.store.get_contact(id).await.unwrap().unwrap();
        let version = shared::contact::version_of(&before).unwrap();
        let (body, headers) = match n % 3 {
            0 => (
                json!({"title": "CTO"}),
                vec![("if-match", format!("\"{version}\""))],
            ),
            1 => (json!({"notes": "plain"}), vec![]),
            _ => (json!({"email": format!("moved-{n}@acme.com")}), vec![]),
        };
        patched.push((
            id.clone(),
            version,
            n % 3,
            send("PATCH", format!("/api/contacts/{id}"), body, headers),
        ));
    }
    let patched: Vec<(String, u64, usize, (u16, Value))> = futures::stream::iter(patched)
        .map(|(id, version, kind, fut)| async move { (id, version, kind, fut.await) })
        .buffer_unordered(16)
        .collect()
        .await;

    let statuses: Vec<u16> = created
        .iter()
        .chain(&companies)
        .map(|(s, _)| *s)
        .chain(patched.iter().map(|(_, _, _, (s, _))| *s))
        .collect();
    let (contacts, claims) = count_items(&direct).await;
    let summary = json!({
        "dynamodb_requests": proxy.stats.requests.load(Ordering::Relaxed),
        "answers_lost": proxy.stats.answers_lost.load(Ordering::Relaxed),
        "http": statuses.len(),
        "answered_201": statuses.iter().filter(|s| **s == 201).count(),
        "answered_200": statuses.iter().filter(|s| **s == 200).count(),
        "answered_503": statuses.iter().filter(|s| **s == 503).count(),
        "answered_other": statuses.iter().filter(|s| ![200, 201, 503].contains(*s)).count(),
        "contacts_stored": contacts,
    });
    println!("LOST_ANSWERS {summary}");
    assert!(
        proxy.stats.answers_lost.load(Ordering::Relaxed) > 0,
        "{summary}"
    );
    let odd: Vec<_> = created
        .iter()
        .chain(&companies)
        .chain(patched.iter().map(|(_, _, _, r)| r))
        .filter(|(s, _)| ![200, 201, 503].contains(s))
        .collect();
    assert!(odd.is_empty(), "only successes and 503s: {odd:?}");
    // A 503 may or may not have written; a 201 always did, once.
    let not_created = created.iter().filter(|(s, _)| *s == 503).count();
    assert!(
        (ids.len()..=ids.len() + not_created).contains(&contacts),
        "{summary}"
    );
    assert_eq!(claims, contacts, "one email claim per contact");
    for (id, version, kind, (status, _)) in &patched {
        let after = direct.store.get_contact(id).await.unwrap().unwrap();
        let now = shared::contact::version_of(&after).unwrap();
        if *status == 200 {
            assert_eq!(now, version + 1, "a patch applies once ({kind}): {after:?}");
        } else {
            assert!((*version..=version + 1).contains(&now));
        }
    }
    // The counters still match the table.
    let totals = direct
        .store
        .totals(&[
            shared::counts::Tally::All,
            shared::counts::Tally::Company("co_01JZ0000000000000000000009".into()),
        ])
        .await
        .unwrap();
    assert_eq!(
        totals[&shared::counts::Tally::All] as usize,
        contacts,
        "{summary}"
    );
    // (The test's table is far below Scan's 1 MB page.)
    let in_company = direct
        .store
        .client
        .scan()
        .table_name(&direct.store.contacts_table)
        .filter_expression("#c = :c")
        .expression_attribute_names("#c", "company_id")
        .expression_attribute_values(
            ":c",
            aws_sdk_dynamodb::types::AttributeValue::S("co_01JZ0000000000000000000009".into()),
        )
        .send()
        .await
        .unwrap()
        .count as usize;
    assert_eq!(
        totals[&shared::counts::Tally::Company("co_01JZ0000000000000000000009".into())] as usize,
        in_company
    );
}
