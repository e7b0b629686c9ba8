//! Test harness: each test gets its own fresh tables in DynamoDB Local
//! (named with a random suffix) and talks to the dev server's router, which
//! runs the same `shared::serve` pipeline as the Lambda binaries.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use devtools::template::{Template, default_path};
use devtools::{local_app, server};
use lambda_http::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::generate_key;
use shared::{App, Config};
use tower::ServiceExt;

pub struct TestApi {
    pub app: Arc<App>,
    router: Router,
    pub key: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// `data` of a success envelope (panics with the body otherwise).
    pub fn data(&self) -> &Value {
        assert_eq!(
            self.body["ok"], true,
            "expected success, got {} {}",
            self.status, self.body
        );
        &self.body["data"]
    }

    /// Field names in a validation error's details.
    pub fn error_fields(&self) -> Vec<String> {
        assert_eq!(
            self.body["ok"], false,
            "expected an error, got {}",
            self.body
        );
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| f["field"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Configuration pointing at the DynamoDB Local that `make test` started.
pub fn local_config() -> Config {
    let config = Config::from_env();
    assert!(
        config.dynamodb_endpoint.is_some(),
        "DYNAMODB_ENDPOINT is not set: these tests run against DynamoDB Local; use `make test`"
    );
    let suffix = format!("_{}", ulid::Ulid::generate().to_string().to_lowercase());
    config.with_table_suffix(&suffix)
}

impl TestApi {
    pub async fn new() -> Self {
        let key = generate_key();
        let app = Arc::new(
            local_app(local_config(), &key)
                .await
                .expect("set up tables in DynamoDB Local"),
        );
        let routes = Template::load(&default_path()).unwrap().routes();
        let router = server::router(app.clone(), routes).unwrap();
        TestApi { app, router, key }
    }

    /// Sends a request with the test key and a JSON content type, plus `headers`.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        let mut has_key = false;
        for (k, v) in headers {
            has_key |= k.eq_ignore_ascii_case("x-sm-key");
            builder = builder.header(*k, *v);
        }
        if !has_key {
            builder = builder.header("x-sm-key", &self.key);
        }
        let body = match body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send_raw(builder.body(body).unwrap()).await
    }

    pub async fn send_raw(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(
            parts.headers["content-type"], "application/json",
            "every answer is JSON"
        );
        let body: Value = serde_json::from_slice(&bytes).expect("every answer is a JSON envelope");
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, Some(body), &[]).await
    }

    /// Creates a company and returns its id.
    pub async fn company(&self, name: &str) -> String {
        let r = self.post("/api/companies", json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_string()
    }

    /// Creates a contact and returns its id.
    pub async fn contact(&self, body: Value) -> String {
        let r = self.post("/api/contacts", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.data()["id"].as_str().unwrap().to_string()
    }

    /// `total` of a contacts list query.
    pub async fn total(&self, query: &str) -> u64 {
        let r = self.get(&format!("/api/contacts?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.data()["total"].as_u64().unwrap()
    }
}
