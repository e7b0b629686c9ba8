//! The contacts routes end to end against DynamoDB Local.

mod common;

use std::collections::HashSet;

use common::TestApi;
use futures::future::join_all;
use lambda_http::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn create_then_get_returns_the_whole_contact_with_company_name() {
    let api = TestApi::new().await;
    let company = api.company("Acme Corp").await;
    let r = api
        .post(
            "/api/contacts",
            json!({"email": "jane@acme.com", "first_name": "Jane", "last_name": "Smith",
                   "company_id": company, "contact_type": "client", "portal_access": 1,
                   "portal_role": "client_admin", "tags": "vip, east", "title": "CTO"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ct_") && id.len() == 29, "{id}");
    assert_eq!(r.data()["full_name"], "Jane Smith");
    assert_eq!(r.data()["email"], "jane@acme.com");
    assert_eq!(r.headers["location"], format!("/api/contacts/{id}"));

    let got = api.get(&format!("/api/contacts/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    let c = got.data();
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["company_name"], "Acme Corp");
    assert_eq!(c["company_id"], company.as_str());
    assert_eq!(c["contact_type"], "client");
    assert_eq!(c["source"], "manual");
    assert_eq!(c["portal_access"], 1);
    assert_eq!(c["portal_role"], "client_admin");
    assert_eq!(c["tags"], "vip,east");
    assert_eq!(c["enrichment_status"], "pending");
    assert_eq!(c["created_at"], c["updated_at"]);
    assert!(c.get("email_lc").is_none() && c.get("entity").is_none());
    assert_eq!(got.headers["etag"], "\"1\"");
}

#[tokio::test]
async fn create_applies_defaults_and_full_name_override() {
    let api = TestApi::new().await;
    let r = api
        .post(
            "/api/contacts",
            json!({"email": "a@b.co", "first_name": "A", "full_name": "Dr. A"}),
        )
        .await;
    assert_eq!(r.data()["full_name"], "Dr. A");
    let c = api
        .get(&format!(
            "/api/contacts/{}",
            r.data()["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(c.data()["contact_type"], "end_user");
    assert_eq!(c.data()["source"], "manual");
    assert_eq!(c.data()["portal_access"], 0);
}

#[tokio::test]
async fn create_needs_email_or_company_id() {
    let api = TestApi::new().await;
    let r = api
        .post("/api/contacts", json!({"first_name": "Nobody"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["email"]);
    let company = api.company("Only Co").await;
    let r = api
        .post("/api/contacts", json!({"company_id": company}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.data()["email"], serde_json::Value::Null);
}

#[tokio::test]
async fn invalid_create_names_every_field_and_writes_nothing() {
    let api = TestApi::new().await;
    let r = api
        .post(
            "/api/contacts",
            json!({"email": "not-an-email", "contact_type": "boss", "portal_role": "owner",
                   "portal_access": 2, "linkedin_url": "ftp://x", "id": "ct_x", "favourite_colour": "red"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "validation_failed");
    assert_eq!(
        r.error_fields(),
        [
            "contact_type",
            "email",
            "favourite_colour",
            "id",
            "linkedin_url",
            "portal_access",
            "portal_role"
        ]
    );
    assert_eq!(api.total("").await, 0);
}

#[tokio::test]
async fn create_with_unknown_company_is_400_and_writes_nothing() {
    let api = TestApi::new().await;
    let r = api
        .post(
            "/api/contacts",
            json!({"email": "x@y.co", "company_id": "co_01JZ0000000000000000000000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["company_id"]);
    assert_eq!(api.total("").await, 0);
    // The address was not claimed either.
    assert_eq!(
        api.post("/api/contacts", json!({"email": "x@y.co"}))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn duplicate_email_ignoring_case_is_409_naming_the_existing_contact() {
    let api = TestApi::new().await;
    let first = api.contact(json!({"email": "Jane@Acme.com"})).await;
    let r = api
        .post("/api/contacts", json!({"email": "jane@ACME.com"}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.error_code(), "duplicate_email");
    assert_eq!(r.body["error"]["details"]["existing_id"], first.as_str());
    assert_eq!(api.total("").await, 1);
}

#[tokio::test]
async fn racing_creates_with_one_email_make_exactly_one_contact() {
    let api = TestApi::new().await;
    let attempts = (0..50).map(|i| {
        api.post(
            "/api/contacts",
            json!({"email": "race@acme.com", "first_name": format!("R{i}")}),
        )
    });
    let replies = join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (created, conflicts),
        (1, 49),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(api.total("").await, 1);
}

#[tokio::test]
async fn missing_unknown_and_revoked_keys_get_the_same_401() {
    let api = TestApi::new().await;
    let missing = api
        .send(Method::GET, "/api/contacts", None, &[("x-sm-key", "")])
        .await;
    let unknown = api
        .send(
            Method::GET,
            "/api/contacts",
            None,
            &[("x-sm-key", "sm_nope")],
        )
        .await;
    let spare = shared::auth::generate_key();
    api.app
        .store
        .put_api_key(&shared::auth::hash_key(&spare), "spare")
        .await
        .unwrap();
    assert_eq!(
        api.send(Method::GET, "/api/contacts", None, &[("x-sm-key", &spare)])
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        api.app
            .store
            .revoke_api_key(&shared::auth::hash_key(&spare))
            .await
            .unwrap()
    );
    let revoked = api
        .send(Method::GET, "/api/contacts", None, &[("x-sm-key", &spare)])
        .await;
    for r in [&missing, &unknown, &revoked] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, missing.body);
    }
    // Writes are refused too, and write nothing.
    let w = api
        .send(
            Method::POST,
            "/api/contacts",
            Some(json!({"email": "a@b.co"})),
            &[("x-sm-key", "bad")],
        )
        .await;
    assert_eq!(w.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.total("").await, 0);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let api = TestApi::new().await;
    for uri in [
        "/api/contacts/ct_01JZ0000000000000000000000",
        "/api/contacts/nonsense",
        "/api/contacts/email%23a@b.co",
    ] {
        let r = api.get(uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error_code(), "not_found");
    }
    let r = api
        .patch(
            "/api/contacts/ct_01JZ0000000000000000000000",
            json!({"title": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = api
        .patch(
            "/api/contacts/ct_01JZ0000000000000000000000",
            json!({"first_name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.total("").await,
        0,
        "a patch of a missing contact must not create one"
    );
}

#[tokio::test]
async fn patch_updates_fields_version_and_updated_at() {
    let api = TestApi::new().await;
    let id = api
        .contact(json!({"email": "p@acme.com", "first_name": "Pat", "phone": "+1 555"}))
        .await;
    let before = api.get(&format!("/api/contacts/{id}")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = api
        .patch(
            &format!("/api/contacts/{id}"),
            json!({"portal_access": 1, "portal_role": "client_admin", "phone": null, "engagement_score": 42.5,
                   "enrichment_data": {"provider": "x", "fields": ["title"]}, "last_engagement_at": "2026-01-31T09:30:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data(), &json!({"id": id, "updated": true}));
    let after = api.get(&format!("/api/contacts/{id}")).await;
    let c = after.data();
    assert_eq!(c["portal_access"], 1);
    assert_eq!(c["portal_role"], "client_admin");
    assert_eq!(c["phone"], serde_json::Value::Null, "null clears a field");
    assert_eq!(c["engagement_score"], 42.5);
    assert_eq!(c["enrichment_data"]["fields"][0], "title");
    assert_eq!(c["version"], 2);
    assert_eq!(after.headers["etag"], "\"2\"");
    assert_ne!(c["updated_at"], before.data()["updated_at"]);
    assert_eq!(c["created_at"], before.data()["created_at"]);
}

#[tokio::test]
async fn patch_rejects_unknown_read_only_and_invalid_fields_writing_nothing() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "v@acme.com"})).await;
    let uri = format!("/api/contacts/{id}");
    let r = api
        .patch(&uri, json!({"title": "CEO", "id": "ct_other", "version": 9, "is_admin": true, "contact_type": "boss"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.error_fields(),
        ["contact_type", "id", "is_admin", "version"]
    );
    let r = api.patch(&uri, json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = api.patch(&uri, json!({"email": null})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a contact keeps an email or a company"
    );
    let c = api.get(&uri).await;
    assert_eq!(c.data()["title"], serde_json::Value::Null);
    assert_eq!(c.data()["version"], 1);
}

#[tokio::test]
async fn patch_email_keeps_addresses_unique_and_frees_the_old_one() {
    let api = TestApi::new().await;
    let a = api.contact(json!({"email": "a@acme.com"})).await;
    let b = api.contact(json!({"email": "b@acme.com"})).await;
    let r = api
        .patch(
            &format!("/api/contacts/{b}"),
            json!({"email": "A@acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["details"]["existing_id"], a.as_str());

    assert_eq!(
        api.patch(
            &format!("/api/contacts/{a}"),
            json!({"email": "a2@acme.com"})
        )
        .await
        .status,
        StatusCode::OK
    );
    // The old address is free again; the new one is taken.
    assert_eq!(
        api.post("/api/contacts", json!({"email": "a@acme.com"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.post("/api/contacts", json!({"email": "A2@acme.com"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Changing only the case keeps the claim.
    assert_eq!(
        api.patch(
            &format!("/api/contacts/{a}"),
            json!({"email": "A2@Acme.com"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        api.get(&format!("/api/contacts/{a}")).await.data()["email"],
        "A2@Acme.com"
    );
    assert_eq!(api.total("search=a2%40acme").await, 1);
}

#[tokio::test]
async fn patch_name_parts_rederive_full_name_unless_it_was_set() {
    let api = TestApi::new().await;
    let id = api
        .contact(json!({"email": "n@acme.com", "first_name": "Jane", "last_name": "Smith"}))
        .await;
    let uri = format!("/api/contacts/{id}");
    api.patch(&uri, json!({"last_name": "Doe"})).await.data();
    assert_eq!(api.get(&uri).await.data()["full_name"], "Jane Doe");
    assert_eq!(api.total("search=jane%20doe").await, 1);
    api.patch(&uri, json!({"full_name": "Dr. J. Doe"}))
        .await
        .data();
    api.patch(&uri, json!({"first_name": "Janet"})).await.data();
    assert_eq!(api.get(&uri).await.data()["full_name"], "Dr. J. Doe");
}

#[tokio::test]
async fn patch_company_must_exist() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "c@acme.com"})).await;
    let r = api
        .patch(
            &format!("/api/contacts/{id}"),
            json!({"company_id": "co_01JZ0000000000000000000000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["company_id"]);
    let co = api.company("Real Co").await;
    assert_eq!(
        api.patch(&format!("/api/contacts/{id}"), json!({"company_id": co}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        api.get(&format!("/api/contacts/{id}")).await.data()["company_name"],
        "Real Co"
    );
}

#[tokio::test]
async fn stale_if_match_is_412_and_writes_nothing() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "m@acme.com"})).await;
    let uri = format!("/api/contacts/{id}");
    let ok = api
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"title": "A"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let stale = api
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"title": "B"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let stale = api
        .send(
            Method::PATCH,
            &uri,
            Some(json!({"first_name": "B"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(api.get(&uri).await.data()["title"], "A");
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_all_land() {
    let api = TestApi::new().await;
    let id = api
        .contact(json!({"email": "cc@acme.com", "first_name": "C"}))
        .await;
    let uri = format!("/api/contacts/{id}");
    let fields = [
        "title",
        "role",
        "department",
        "phone",
        "pipeline_stage",
        "funnel_stage",
        "notes",
        "close_lead_id",
        "close_contact_id",
        "last_name",
    ];
    let replies = join_all(
        fields
            .iter()
            .map(|f| api.patch(&uri, json!({ *f: format!("v-{f}") }))),
    )
    .await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::OK),
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let c = api.get(&uri).await;
    for f in fields {
        assert_eq!(c.data()[f], format!("v-{f}"), "{f} was lost");
    }
    assert_eq!(c.data()["full_name"], "C v-last_name");
    assert_eq!(c.data()["version"], 1 + fields.len());
}

#[tokio::test]
async fn list_pages_through_everything_newest_first_with_exact_totals() {
    let api = TestApi::new().await;
    let mut created = Vec::new();
    for i in 0..23 {
        created.push(
            api.contact(json!({"email": format!("p{i}@acme.com")}))
                .await,
        );
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let r = api
            .get(&format!("/api/contacts?limit=10&page={page}"))
            .await;
        let d = r.data();
        assert_eq!(d["total"], 23);
        assert_eq!(d["page"], page);
        assert_eq!(d["limit"], 10);
        assert_eq!(d["hasMore"], page < 3);
        seen.extend(
            d["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen.len(), 23);
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    let beyond = api.get("/api/contacts?limit=10&page=4").await;
    assert_eq!(beyond.data()["items"].as_array().unwrap().len(), 0);
    assert_eq!(beyond.data()["total"], 23);
    assert_eq!(beyond.data()["hasMore"], false);
    // A page far past the end reads nothing and says so.
    let far = api.get("/api/contacts?limit=100&page=4000000000").await;
    assert_eq!(far.data()["items"].as_array().unwrap().len(), 0);
    assert_eq!(far.data()["page"], 4_000_000_000u64);
    assert_eq!(far.data()["total"], 23);
}

#[tokio::test]
async fn list_limit_defaults_and_clamps_and_bad_paging_is_400() {
    let api = TestApi::new().await;
    let d = api.get("/api/contacts").await;
    assert_eq!(
        (d.data()["page"].as_u64(), d.data()["limit"].as_u64()),
        (Some(1), Some(25))
    );
    for big in ["1000", "99999999999999999999"] {
        let r = api.get(&format!("/api/contacts?limit={big}")).await;
        assert_eq!(r.data()["limit"], 100, "{big} clamps");
    }
    let r = api.get("/api/contacts?page=0&limit=x&type=boss").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.error_fields(),
        ["page", "limit", "type"],
        "named together"
    );
    for q in ["page=0", "page=-2", "limit=0", "limit=ten", "page=1.5"] {
        let r = api.get(&format!("/api/contacts?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.error_fields().len(), 1, "{q}");
    }
    let r = api.get("/api/contacts?type=boss").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["type"]);
    let r = api.get("/api/contacts?company_id=acme").await;
    assert_eq!(r.error_fields(), ["company_id"]);
}

#[tokio::test]
async fn list_filters_combine_and_search_ignores_case() {
    let api = TestApi::new().await;
    let acme = api.company("Acme Corp").await;
    let globex = api.company("Globex").await;
    let rows = [
        ("Jane Smith", "jane@acme.com", &acme, "client", "referral"),
        ("John Smith", "john@acme.com", &acme, "lead", "referral"),
        ("Ann Lee", "ann@acme.com", &acme, "lead", "web"),
        ("Bob Stone", "bob@globex.com", &globex, "lead", "web"),
        ("Cat Smith", "cat@globex.com", &globex, "investor", "manual"),
    ];
    for (name, email, co, ty, src) in rows {
        api.contact(json!({"full_name": name, "email": email, "company_id": co, "contact_type": ty, "source": src})).await;
    }
    api.contact(json!({"email": "solo@nowhere.io"})).await;

    let cases = [
        (format!("company_id={acme}"), 3),
        (format!("company_id={globex}"), 2),
        ("type=lead".to_string(), 3),
        ("type=end_user".to_string(), 1),
        ("source=web".to_string(), 2),
        ("type=lead&source=web".to_string(), 2),
        (format!("company_id={acme}&type=lead"), 2),
        (format!("company_id={acme}&type=lead&source=web"), 1),
        ("search=SMITH".to_string(), 3),
        ("search=globex.COM".to_string(), 2),
        ("search=smith&type=lead".to_string(), 1),
        (format!("search=smith&company_id={globex}"), 1),
        ("search=zzz".to_string(), 0),
        ("type=candidate".to_string(), 0),
    ];
    for (q, want) in cases {
        assert_eq!(api.total(&q).await, want, "{q}");
    }
    let r = api
        .get(&format!("/api/contacts?company_id={acme}&type=client"))
        .await;
    let item = &r.data()["items"][0];
    assert_eq!(item["full_name"], "Jane Smith");
    assert_eq!(item["company_name"], "Acme Corp");
    assert_eq!(item["contact_type"], "client");
    assert_eq!(item["portal_access"], 0);
    assert_eq!(item["portal_role"], serde_json::Value::Null);
    assert!(
        item.get("notes").is_none(),
        "list items are summaries: {item}"
    );
    let all = api.get("/api/contacts?limit=100").await;
    let names: HashSet<_> = all.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["company_name"].clone())
        .collect();
    assert!(names.contains(&json!("Globex")) && names.contains(&json!("Acme Corp")));
}

#[tokio::test]
async fn wrong_content_type_big_bodies_bad_json_and_methods_are_refused() {
    let api = TestApi::new().await;
    let r = api
        .send_raw(
            lambda_http::http::Request::post("/api/contacts")
                .header("x-sm-key", &api.key)
                .header("content-type", "text/plain")
                .body(axum::body::Body::from("{\"email\":\"a@b.co\"}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = api
        .post(
            "/api/contacts",
            json!({"email": "a@b.co", "notes": "x".repeat(70_000)}),
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = api
        .send_raw(
            lambda_http::http::Request::post("/api/contacts")
                .header("x-sm-key", &api.key)
                .body(axum::body::Body::from("{\"email\":"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "bad_request");
    assert_eq!(
        api.send(Method::DELETE, "/api/contacts", None, &[])
            .await
            .status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let nf = api.get("/api/nothing-here").await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    assert_eq!(nf.body["ok"], false);
    assert_eq!(api.total("").await, 0);
}

/// Every patchable field with a valid value for contact `n`.
fn one_value_per_field(n: usize, company: &str) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("email", json!(format!("moved-{n}@acme.com"))),
        ("company_id", json!(company)),
        ("first_name", json!("First")),
        ("last_name", json!("Last")),
        ("full_name", json!(format!("Full Name {n}"))),
        ("title", json!("CTO")),
        ("role", json!("buyer")),
        ("department", json!("R&D")),
        ("phone", json!("+44 20 7946 0000")),
        ("contact_type", json!("investor")),
        ("source", json!("conference")),
        ("pipeline_stage", json!("qualified")),
        ("funnel_stage", json!("mql")),
        ("engagement_score", json!(77)),
        ("last_engagement_at", json!("2026-11-30T12:00:00Z")),
        ("enrichment_status", json!("enriched")),
        ("enrichment_data", json!({"provider": "test"})),
        ("linkedin_url", json!("https://www.linkedin.com/in/someone")),
        ("photo_url", json!("https://example.com/p.png")),
        ("close_lead_id", json!("lead_1")),
        ("close_contact_id", json!("cont_1")),
        ("tags", json!("a,b")),
        ("notes", json!("met at the fair")),
        ("portal_access", json!(1)),
        ("portal_role", json!("client_viewer")),
    ]
}

#[tokio::test]
async fn fifty_concurrent_patches_of_different_fields_all_land() {
    let api = TestApi::new().await;
    let company = api.company("Patch Co").await;
    let ids = [
        api.contact(json!({"email": "one@acme.com", "first_name": "One"}))
            .await,
        api.contact(json!({"email": "two@acme.com", "first_name": "Two"}))
            .await,
    ];
    // Every patchable field of both contacts at once: 2 × 25 = 50 requests.
    let mut patches = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for (field, value) in one_value_per_field(n, &company) {
            patches.push((format!("/api/contacts/{id}"), json!({ field: value })));
        }
    }
    assert_eq!(patches.len(), 50);
    let replies = join_all(
        patches
            .iter()
            .map(|(uri, body)| api.patch(uri, body.clone())),
    )
    .await;
    let failed: Vec<_> = replies
        .iter()
        .filter(|r| r.status != StatusCode::OK)
        .map(|r| &r.body)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    for (n, id) in ids.iter().enumerate() {
        let c = api.get(&format!("/api/contacts/{id}")).await;
        let c = c.data();
        for (field, value) in one_value_per_field(n, &company) {
            assert_eq!(c[field], value, "{field} of contact {n} was lost");
        }
        assert_eq!(c["version"], 26);
        assert_eq!(c["company_name"], "Patch Co");
    }
    // The old addresses were released, the new ones are held.
    assert_eq!(
        api.post("/api/contacts", json!({"email": "one@acme.com"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.post("/api/contacts", json!({"email": "moved-1@acme.com"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn two_concurrent_patches_with_one_if_match_give_one_200_and_one_412() {
    let api = TestApi::new().await;
    for body in [json!({"title": "x"}), json!({"first_name": "x"})] {
        let id = api.contact(json!({"email": format!("im-{}@acme.com", ulid::Ulid::generate()), "first_name": "I"})).await;
        let uri = format!("/api/contacts/{id}");
        let (a, b) = tokio::join!(
            api.send(
                Method::PATCH,
                &uri,
                Some(body.clone()),
                &[("if-match", "\"1\"")]
            ),
            api.send(
                Method::PATCH,
                &uri,
                Some(json!({"department": "y"})),
                &[("if-match", "\"1\"")]
            ),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "{body}");
        assert_eq!(api.get(&uri).await.data()["version"], 2);
    }
}

#[tokio::test]
async fn search_finds_long_names_and_emails_and_follows_patches() {
    // Long fields do not fit the slim search copy whole: their matches are
    // decided from the full fields, and never across name and email.
    let api = TestApi::new().await;
    let long_name = format!("{} Zebulon", "Maximiliana ".repeat(12));
    let long_email = format!("{}.quux@{}.example.com", "x".repeat(50), "d".repeat(20));
    let a = api
        .contact(json!({"full_name": long_name, "email": "a@acme.com"}))
        .await;
    let b = api
        .contact(json!({"full_name": "Bo", "email": long_email}))
        .await;
    api.contact(json!({"full_name": "Zeb Short", "email": "short@acme.com"}))
        .await;
    assert_eq!(api.total("search=zebulon").await, 1);
    assert_eq!(api.total("search=quux@ddd").await, 1);
    assert_eq!(api.total("search=example.com").await, 1, "past the cut");
    assert_eq!(api.total("search=zeb").await, 2);
    assert_eq!(api.total("search=acme.com").await, 2);
    assert_eq!(api.total("search=bo").await, 1);
    let page = api.get("/api/contacts?search=zeb&limit=1").await;
    assert_eq!(page.data()["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.data()["hasMore"], true);

    // Patching a name or an email rebuilds the copy.
    let r = api
        .patch(
            &format!("/api/contacts/{a}"),
            json!({"full_name": "Ann Short"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(api.total("search=zebulon").await, 0);
    assert_eq!(api.total("search=ann%20short").await, 1);
    let r = api
        .patch(
            &format!("/api/contacts/{b}"),
            json!({"email": "bo@globex.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(api.total("search=quux").await, 0);
    assert_eq!(api.total("search=globex").await, 1);
    let r = api
        .patch(
            &format!("/api/contacts/{b}"),
            json!({"first_name": "Quentin", "last_name": "Zebulonsson"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        api.total("search=zebulonsson").await,
        0,
        "an explicit full_name stays"
    );
}
