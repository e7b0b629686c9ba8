//! Every API Gateway event in `events/` and in the reference fixtures
//! (`../shared/fixtures/apigw/`, SAM-generated v1 and v2 events) goes through
//! the Lambda pipeline, `shared::serve`, exactly as Lambda would deliver it.

mod common;

use std::path::{Path, PathBuf};

use common::TestApi;
use lambda_http::http::{HeaderValue, StatusCode};
use serde_json::{Value, json};
use shared::contact::NewContact;
use shared::fields::{COMPANY_FIELDS, CONTACT_FIELDS};
use shared::validate::{self, Mode};
use shared::{Route, company, store::now};

const CONTACT_ID: &str = "ct_01JZ0000000000000000000000";
const COMPANY_ID: &str = "co_01JZ0000000000000000000000";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The reference fixtures beside the checkout. CI always has them; a fresh
/// clone without `../shared` still checks `events/`.
fn fixture_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("APIGW_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/fixtures/apigw"));
    if dir.is_dir() {
        Some(dir)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the API Gateway fixtures at {}",
            dir.display()
        );
        eprintln!("NOTE: {} not found; checking events/ only", dir.display());
        None
    }
}

/// The route an event file is for: its name without the `http-api-` /
/// `rest-api-` prefix is the binary name.
fn route_of(path: &Path) -> Route {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let binary = stem
        .trim_start_matches("http-api-")
        .trim_start_matches("rest-api-");
    Route::from_binary(binary).unwrap_or_else(|| panic!("{} names no route", path.display()))
}

/// A fresh API holding the company and contact the events refer to.
async fn seeded_api() -> TestApi {
    let api = TestApi::new().await;
    let company_input = validate::fields(
        json!({"name": "Acme Corp"}).as_object().unwrap().clone(),
        COMPANY_FIELDS,
        Mode::Create,
    )
    .unwrap();
    api.app
        .store
        .create_company(company::new_company(&company_input, COMPANY_ID, &now()).unwrap())
        .await
        .unwrap();
    let body = json!({"email": "seed@acme.com", "full_name": "Seed Contact", "company_id": COMPANY_ID, "contact_type": "client"});
    let input = validate::fields(
        body.as_object().unwrap().clone(),
        CONTACT_FIELDS,
        Mode::Create,
    )
    .unwrap();
    let contact = NewContact::from_input(&input, CONTACT_ID.into(), &now()).unwrap();
    api.app.store.create_contact(&contact).await.unwrap();
    api
}

async fn check_event(path: &Path) {
    let raw = std::fs::read_to_string(path).unwrap();
    let route = route_of(path);
    let api = seeded_api().await;
    let mut req =
        lambda_http::request::from_str(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    req.headers_mut()
        .insert("x-sm-key", HeaderValue::from_str(&api.key).unwrap());
    let resp = shared::serve(route, &api.app, req).await;
    let status = resp.status();
    let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    let what = format!("{} -> {status} {body}", path.display());
    assert_eq!(body["ok"], true, "{what}");
    match route {
        Route::CreateContact | Route::CreateCompany => {
            assert_eq!(status, StatusCode::CREATED, "{what}")
        }
        _ => assert_eq!(status, StatusCode::OK, "{what}"),
    }
    match route {
        Route::GetContact => {
            assert_eq!(body["data"]["id"], CONTACT_ID, "{what}");
            assert_eq!(body["data"]["company_name"], "Acme Corp", "{what}");
        }
        Route::GetCompany => assert_eq!(body["data"]["id"], COMPANY_ID, "{what}"),
        Route::UpdateContact => {
            assert_eq!(body["data"]["id"], CONTACT_ID, "{what}");
            let item = api
                .app
                .store
                .get_contact(CONTACT_ID)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(shared::contact::version_of(&item), Some(2), "{what}");
        }
        Route::ListContacts | Route::ListCompanies => {
            assert!(body["data"]["total"].as_u64().unwrap() >= 1, "{what}")
        }
        Route::CreateContact => assert_eq!(body["data"]["email"], "jane@acme.com", "{what}"),
        Route::CreateCompany => assert!(
            body["data"]["id"].as_str().unwrap().starts_with("co_"),
            "{what}"
        ),
    }
}

/// Events in `events/` that are for no API route (each tested below).
const OTHER_EVENTS: &[&str] = &["enrich-contacts.json", "not-found.json"];

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n != "env.json" && !OTHER_EVENTS.contains(&n))
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_event_file_gets_the_right_answer() {
    let events = json_files(&repo().join("events"));
    assert_eq!(
        events.len(),
        Route::ALL.len(),
        "one event per route in events/"
    );
    for path in &events {
        check_event(path).await;
    }
}

#[tokio::test]
async fn every_reference_fixture_gets_the_right_answer() {
    let Some(dir) = fixture_dir() else { return };
    let fixtures = json_files(&dir);
    assert!(!fixtures.is_empty());
    for path in &fixtures {
        check_event(path).await;
    }
}

#[tokio::test]
async fn an_event_without_a_key_is_401() {
    let api = seeded_api().await;
    let raw = std::fs::read_to_string(repo().join("events/get-contact.json")).unwrap();
    let mut req = lambda_http::request::from_str(&raw).unwrap();
    req.headers_mut().remove("x-sm-key");
    let resp = shared::serve(Route::GetContact, &api.app, req).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_scheduled_event_runs_the_enrichment_job() {
    let api = seeded_api().await;
    let raw = std::fs::read_to_string(repo().join("events/enrich-contacts.json")).unwrap();
    let event: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    let deadline_ms = shared::enrich::queue::epoch_ms(&now()) as u64 + 60_000;
    let enricher = shared::enrich::Enricher::new(shared::enrich::EnrichConfig::default()).unwrap();
    let summary = shared::enrich::lambda::handle(&api.app, &enricher, deadline_ms).await;
    assert_eq!((summary.processed, summary.enriched), (1, 1), "{summary}");
    let item = api
        .app
        .store
        .get_contact(CONTACT_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        shared::contact::text_attr(&item, "enrichment_status"),
        Some("enriched")
    );
}

#[tokio::test]
async fn the_default_route_event_gets_an_envelope_405() {
    let raw = std::fs::read_to_string(repo().join("events/not-found.json")).unwrap();
    let req = lambda_http::request::from_str(&raw).unwrap();
    let resp = shared::routes::serve_unrouted(req).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, PATCH");
    let body: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
