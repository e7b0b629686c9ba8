//! The company routes end to end against DynamoDB Local.

mod common;

use common::TestApi;
use lambda_http::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn create_get_and_list_companies() {
    let api = TestApi::new().await;
    let r = api
        .post(
            "/api/companies",
            json!({"name": "Acme Corp", "domain": "Acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("co_"));
    assert_eq!(r.data()["name"], "Acme Corp");

    let got = api.get(&format!("/api/companies/{id}")).await;
    assert_eq!(got.data()["domain"], "acme.com");
    assert_eq!(got.data()["name"], "Acme Corp");
    assert!(got.data().get("entity").is_none());

    for i in 0..4 {
        api.company(&format!("Co {i}")).await;
    }
    let page = api.get("/api/companies?limit=2&page=3").await;
    let d = page.data();
    assert_eq!(d["total"], 5);
    assert_eq!(d["items"].as_array().unwrap().len(), 1);
    assert_eq!(d["items"][0]["id"], id.as_str(), "oldest last");
    assert_eq!(d["hasMore"], false);
    assert_eq!(
        api.get("/api/companies?limit=2").await.data()["hasMore"],
        true
    );
    let far = api.get("/api/companies?page=4000000000").await;
    assert_eq!(far.data()["items"].as_array().unwrap().len(), 0);
    assert_eq!(far.data()["total"], 5);
}

#[tokio::test]
async fn concurrent_company_creates_keep_the_total_exact() {
    let api = TestApi::new().await;
    let created = futures::future::join_all(
        (0..40).map(|i| api.post("/api/companies", json!({"name": format!("Race {i}")}))),
    )
    .await;
    assert!(created.iter().all(|r| r.status == StatusCode::CREATED));
    let list = api.get("/api/companies?limit=100").await;
    assert_eq!(list.data()["total"], 40);
    assert_eq!(list.data()["items"].as_array().unwrap().len(), 40);
}

#[tokio::test]
async fn company_errors() {
    let api = TestApi::new().await;
    let r = api.post("/api/companies", json!({"domain": "x.com"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_fields(), ["name"]);
    let r = api
        .post(
            "/api/companies",
            json!({"name": "X", "domain": "not a domain", "ceo": "me"}),
        )
        .await;
    assert_eq!(r.error_fields(), ["ceo", "domain"]);
    assert_eq!(
        api.get("/api/companies/co_01JZ0000000000000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/companies?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.get("/api/companies").await.data()["total"], 0);
}
