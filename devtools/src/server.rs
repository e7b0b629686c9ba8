//! The dev server: serves every route of `template.yaml` over HTTP by
//! calling the same `shared::serve` pipeline the Lambda binaries run.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::Request as AxumRequest;
use axum::response::Response as AxumResponse;
use lambda_http::{Body, RequestExt};
use shared::{ApiError, App, Route};

use crate::template::RouteDef;

/// Where the dev server serves the OpenAPI description (no key needed).
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Bodies beyond this are cut off before the handler's own 64 KiB check.
const MAX_READ_BYTES: usize = 1024 * 1024;

/// A route of the template bound to its handler.
#[derive(Clone, Debug)]
struct Bound {
    def: RouteDef,
    route: Route,
}

/// The router. Errors when the template names a binary the code lacks.
pub fn router(app: Arc<App>, defs: Vec<RouteDef>) -> Result<axum::Router, String> {
    let bound: Vec<Bound> = defs
        .into_iter()
        .map(|def| match Route::from_binary(&def.binary) {
            Some(route) => Ok(Bound { def, route }),
            None => Err(format!(
                "template.yaml routes {} {} to unknown binary {}",
                def.method, def.path, def.binary
            )),
        })
        .collect::<Result<_, _>>()?;
    let bound = Arc::new(bound);
    Ok(axum::Router::new().fallback(move |req: AxumRequest| {
        let (app, bound) = (app.clone(), bound.clone());
        async move { dispatch(&app, &bound, req).await }
    }))
}

pub use shared::routes::match_path;

async fn dispatch(app: &App, bound: &[Bound], req: AxumRequest) -> AxumResponse {
    let path = req.uri().path().to_string();
    if path == OPENAPI_PATH && req.method() == axum::http::Method::GET {
        return AxumResponse::builder()
            .header("content-type", "application/json")
            .body(AxumBody::from(crate::openapi::to_json()))
            .expect("static response");
    }
    let matches: Vec<(&Bound, HashMap<String, String>)> = bound
        .iter()
        .filter_map(|b| match_path(&b.def.path, &path).map(|p| (b, p)))
        .collect();
    let Some((b, params)) = matches
        .iter()
        .find(|(b, _)| b.def.method == req.method().as_str())
        .cloned()
    else {
        let methods: Vec<String> = matches.iter().map(|(b, _)| b.def.method.clone()).collect();
        let resp = shared::routes::unrouted(&methods).into_response();
        tracing::info!(route = "none", method = %req.method(), status = resp.status().as_u16(), "request");
        return to_axum(resp);
    };
    let query: HashMap<String, Vec<String>> = req
        .uri()
        .query()
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .fold(HashMap::new(), |mut m, (k, v)| {
            m.entry(k).or_default().push(v);
            m
        });
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_READ_BYTES).await {
        Ok(b) => b,
        Err(_) => return to_axum(ApiError::PayloadTooLarge.into_response()),
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    let req = lambda_http::http::Request::from_parts(parts, body)
        .with_path_parameters(params)
        .with_query_string_parameters(query);
    to_axum(shared::serve(b.route, app, req).await)
}

fn to_axum(resp: lambda_http::Response<Body>) -> AxumResponse {
    let (parts, body) = resp.into_parts();
    let body = match body {
        Body::Empty => AxumBody::empty(),
        Body::Text(t) => AxumBody::from(t),
        Body::Binary(b) => AxumBody::from(b),
        _ => AxumBody::empty(),
    };
    AxumResponse::from_parts(parts, body)
}
