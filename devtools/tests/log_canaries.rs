//! Personal data and keys never reach the logs: a session full of canary
//! values (in email, phone, notes, search and API keys, on success and error
//! paths) is run with logs captured at `debug`, and no canary appears.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestApi;
use lambda_http::http::Method;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const EMAIL: &str = "canary.e7f3@leak-test.example";
const PHONE: &str = "+1 555 0199 4242";
const NOTES: &str = "CANARY-NOTES-91b2";
const BAD_KEY: &str = "sm_canary_wrong_key_5d1e";

#[tokio::test]
async fn no_canary_reaches_the_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || sink.clone())
        .init();

    let api = TestApi::new().await;
    let body = json!({"email": EMAIL, "phone": PHONE, "notes": NOTES, "first_name": "Canary"});
    let id = api.contact(body.clone()).await;
    let uri = format!("/api/contacts/{id}");
    api.get(&uri).await.data();
    api.get("/api/contacts?search=canary.e7f3").await.data();
    api.patch(
        &uri,
        json!({"notes": format!("{NOTES} again"), "phone": PHONE, "email": EMAIL.to_uppercase()}),
    )
    .await
    .data();
    // Error paths: duplicate, invalid values, unknown field, bad key, idempotent replay.
    api.post("/api/contacts", json!({"email": EMAIL})).await;
    api.post(
        "/api/contacts",
        json!({"email": format!("not an email {EMAIL}"), "notes": NOTES, "phone": 5}),
    )
    .await;
    api.patch(&uri, json!({ NOTES: PHONE })).await;
    api.send(Method::GET, &uri, None, &[("x-sm-key", BAD_KEY)])
        .await;
    api.send(
        Method::POST,
        "/api/contacts",
        Some(json!({"email": "other@acme.com"})),
        &[("idempotency-key", NOTES)],
    )
    .await;
    api.send(
        Method::POST,
        "/api/contacts",
        Some(json!({"email": "other@acme.com"})),
        &[("idempotency-key", NOTES)],
    )
    .await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("\"route\":\"create-contact\""),
        "the request lines were captured:\n{text}"
    );
    let lower = text.to_lowercase();
    for canary in [EMAIL, PHONE, "0199 4242", NOTES, BAD_KEY, &api.key, "e7f3"] {
        assert!(
            !lower.contains(&canary.to_lowercase()),
            "{canary} leaked into the logs:\n{text}"
        );
    }
}
