//! Totals that stay exact under concurrent writes, cursors, and search on
//! the slim index.

mod common;

use std::collections::HashMap;

use common::TestApi;
use futures::future::join_all;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

const TYPES: [&str; 5] = ["lead", "client", "candidate", "investor", "end_user"];
const SOURCES: [&str; 3] = ["web", "referral", "manual"];

/// Every contact of `query`, read page by page through `next_cursor`.
async fn all_through_cursor(api: &TestApi, query: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut uri = format!("/api/contacts?limit={limit}&{query}");
    loop {
        let r = api.get(&uri).await;
        let d = r.data();
        items.extend(d["items"].as_array().unwrap().iter().cloned());
        match d["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/contacts?limit={limit}&{query}&cursor={c}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn concurrent_creates_and_moving_patches_keep_every_total_exact() {
    let api = TestApi::new().await;
    let companies = [api.company("A").await, api.company("B").await];
    let creates = (0..50).map(|i| {
        api.post(
            "/api/contacts",
            json!({
                "email": format!("c{i}@x.io"),
                "company_id": companies[i % 2],
                "contact_type": TYPES[i % TYPES.len()],
                "source": SOURCES[i % SOURCES.len()],
            }),
        )
    });
    let replies = join_all(creates).await;
    let ids: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            let id = r.data()["id"].as_str().unwrap();
            id.to_string()
        })
        .collect();

    // Every contact moves type, half move company, a third clear their
    // source (back to the default), all at once.
    let patches = ids.iter().enumerate().map(|(i, id)| {
        let mut body = json!({ "contact_type": TYPES[(i + 1 + i / 7) % TYPES.len()] });
        if i % 2 == 0 {
            body["company_id"] = json!(companies[(i / 2) % 2]);
        }
        if i % 3 == 0 {
            body["source"] = Value::Null;
        }
        let uri = format!("/api/contacts/{id}");
        let api = &api;
        async move { api.patch(&uri, body).await }
    });
    for r in join_all(patches).await {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    let everyone = all_through_cursor(&api, "", 100).await;
    assert_eq!(everyone.len(), 50);
    assert_eq!(api.total("").await, 50);
    let mut recount: HashMap<String, u64> = HashMap::new();
    for c in &everyone {
        for (param, field) in [
            ("type", "contact_type"),
            ("source", "source"),
            ("company_id", "company_id"),
        ] {
            *recount
                .entry(format!("{param}={}", c[field].as_str().unwrap()))
                .or_default() += 1;
        }
    }
    for t in TYPES {
        let q = format!("type={t}");
        assert_eq!(
            api.total(&q).await,
            recount.get(&q).copied().unwrap_or(0),
            "{q}"
        );
    }
    for s in SOURCES {
        let q = format!("source={s}");
        assert_eq!(
            api.total(&q).await,
            recount.get(&q).copied().unwrap_or(0),
            "{q}"
        );
    }
    for c in &companies {
        let q = format!("company_id={c}");
        assert_eq!(api.total(&q).await, recount[&q], "{q}");
    }
}

#[tokio::test]
async fn cursor_pages_match_numbered_pages_and_end_with_null() {
    let api = TestApi::new().await;
    for i in 0..23 {
        api.contact(json!({"email": format!("p{i}@acme.com"), "contact_type": "lead"}))
            .await;
    }
    for query in ["", "type=lead"] {
        let by_cursor = all_through_cursor(&api, query, 10).await;
        let mut by_page = Vec::new();
        for page in 1..=3 {
            let r = api
                .get(&format!("/api/contacts?limit=10&page={page}&{query}"))
                .await;
            assert_eq!(r.data()["next_cursor"].is_null(), page == 3, "{query}");
            by_page.extend(r.data()["items"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(by_cursor, by_page, "{query}");
    }
    let first = api.get("/api/contacts?limit=10").await;
    let cursor = first.data()["next_cursor"].as_str().unwrap().to_string();
    let second = api
        .get(&format!("/api/contacts?limit=10&cursor={cursor}"))
        .await;
    let d = second.data();
    assert_eq!(
        (d["page"].as_u64(), d["total"].as_u64()),
        (Some(2), Some(23))
    );
    assert_eq!(d["hasMore"], true);
}

#[tokio::test]
async fn garbage_edited_and_foreign_cursors_are_400_naming_cursor() {
    let api = TestApi::new().await;
    for i in 0..3 {
        api.contact(json!({"email": format!("g{i}@acme.com"), "contact_type": "lead"}))
            .await;
    }
    let r = api.get("/api/contacts?limit=1&type=lead").await;
    let cursor = r.data()["next_cursor"].as_str().unwrap().to_string();
    let mut edited = cursor.clone().into_bytes();
    edited[4] = if edited[4] == b'a' { b'b' } else { b'a' };
    let edited = String::from_utf8(edited).unwrap();
    for uri in [
        "/api/contacts?cursor=not-a-cursor".to_string(),
        format!("/api/contacts?type=lead&cursor={edited}"),
        format!("/api/contacts?type=client&cursor={cursor}"),
        format!("/api/contacts?cursor={cursor}"),
        format!("/api/contacts?type=lead&page=2&cursor={cursor}"),
    ] {
        let r = api.get(&uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(r.error_fields(), ["cursor"], "{uri}");
    }
}

#[tokio::test]
async fn search_pages_return_whole_summaries_newest_first_with_totals() {
    let api = TestApi::new().await;
    let acme = api.company("Acme").await;
    let mut smiths = Vec::new();
    for i in 0..7 {
        smiths.push(
            api.contact(json!({"full_name": format!("Ann Smith {i}"), "email": format!("s{i}@x.io"), "company_id": acme, "contact_type": "client"}))
                .await,
        );
        api.contact(json!({"full_name": format!("Bob Jones {i}"), "email": format!("j{i}@x.io")}))
            .await;
    }
    smiths.reverse();
    let found = all_through_cursor(&api, "search=SMITH", 3).await;
    let ids: Vec<_> = found.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, smiths);
    assert_eq!(found[0]["company_name"], "Acme");
    assert_eq!(found[0]["contact_type"], "client");
    assert_eq!(api.total("search=smith").await, 7);
    assert_eq!(api.total("search=x.io").await, 14);
}

/// The list indexes must carry every attribute a list item shows (and the
/// lower-cased copies combined filters search), and the search index only
/// the slim search copy: a field missing here would list as `null`.
#[test]
fn the_template_projects_what_the_lists_read() {
    let raw = std::fs::read_to_string(devtools::template::default_path()).unwrap();
    let t: serde_yaml::Value = serde_yaml::from_str(&raw).unwrap();
    let gsis = t["Resources"]["ContactsTable"]["Properties"]["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap();
    let projected = |name: &str| -> Vec<String> {
        let gsi = gsis.iter().find(|g| g["IndexName"] == name).unwrap();
        let keys = gsi["KeySchema"].as_sequence().unwrap().iter();
        let mut attrs: Vec<String> = gsi["Projection"]["NonKeyAttributes"]
            .as_sequence()
            .unwrap()
            .iter()
            .chain(keys.map(|k| &k["AttributeName"]))
            .map(|v| v.as_str().unwrap().to_string())
            .chain(["id".to_string()])
            .collect();
        attrs.sort_unstable();
        attrs.dedup();
        attrs
    };
    use shared::store::index;
    for name in [
        index::BY_CREATED,
        index::BY_COMPANY,
        index::BY_TYPE,
        index::BY_SOURCE,
    ] {
        let have = projected(name);
        for needed in shared::contact::summary_attrs().into_iter().chain([
            shared::contact::attr::NAME_LC,
            shared::contact::attr::EMAIL_LC,
        ]) {
            assert!(have.iter().any(|a| a == needed), "{name} lacks {needed}");
        }
    }
    assert_eq!(
        projected(index::BY_SEARCH),
        ["entity", "id", shared::search::COPY, shared::search::CUT]
    );
}
