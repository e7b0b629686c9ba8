//! The API's routes. Each Lambda binary serves one [`Route`]; the dev server
//! serves them all. [`serve`] is the one pipeline every request goes
//! through: method check, auth, handler, envelope, log line.

pub mod companies;
pub mod contacts;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::auth::{self, Caller};
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::idempotency::{self, Begin, PresetId};
use crate::ids;

pub use companies::{create_company, get_company, list_companies};
pub use contacts::{create_contact, get_contact, list_contacts, update_contact};

/// One route of the API; its name is the Lambda binary's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    ListContacts,
    GetContact,
    CreateContact,
    UpdateContact,
    ListCompanies,
    GetCompany,
    CreateCompany,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::ListContacts,
        Route::GetContact,
        Route::CreateContact,
        Route::UpdateContact,
        Route::ListCompanies,
        Route::GetCompany,
        Route::CreateCompany,
    ];

    /// The binary (and `template.yaml` `BuildProperties.Binary`) that serves it.
    pub fn binary(self) -> &'static str {
        match self {
            Route::ListContacts => "list-contacts",
            Route::GetContact => "get-contact",
            Route::CreateContact => "create-contact",
            Route::UpdateContact => "update-contact",
            Route::ListCompanies => "list-companies",
            Route::GetCompany => "get-company",
            Route::CreateCompany => "create-company",
        }
    }

    pub fn from_binary(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.binary() == name)
    }

    /// The API Gateway path, as `template.yaml` declares it.
    pub fn path(self) -> &'static str {
        match self {
            Route::ListContacts | Route::CreateContact => "/api/contacts",
            Route::GetContact | Route::UpdateContact => "/api/contacts/{id}",
            Route::ListCompanies | Route::CreateCompany => "/api/companies",
            Route::GetCompany => "/api/companies/{id}",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Route::ListContacts | Route::GetContact | Route::ListCompanies | Route::GetCompany => {
                Method::GET
            }
            Route::CreateContact | Route::CreateCompany => Method::POST,
            Route::UpdateContact => Method::PATCH,
        }
    }

    /// A fresh id for the resource a create route makes; `None` for routes
    /// that create nothing (and so take no `Idempotency-Key`).
    pub fn new_resource_id(self) -> Option<String> {
        match self {
            Route::CreateContact => Some(ids::new_contact_id()),
            Route::CreateCompany => Some(ids::new_company_id()),
            _ => None,
        }
    }

    /// The route's handler. Boxed: the handlers' futures (the SDK's above
    /// all) are large, and unboxed they would all sit inline in every
    /// future that awaits one, overflowing a thread's stack in debug builds.
    async fn handle(self, app: &App, req: &Request, _caller: &Caller) -> Result<Reply, ApiError> {
        Box::pin(self.dispatch(app, req)).await
    }

    async fn dispatch(self, app: &App, req: &Request) -> Result<Reply, ApiError> {
        match self {
            Route::ListContacts => list_contacts(app, req).await,
            Route::GetContact => get_contact(app, req).await,
            Route::CreateContact => create_contact(app, req).await,
            Route::UpdateContact => update_contact(app, req).await,
            Route::ListCompanies => list_companies(app, req).await,
            Route::GetCompany => get_company(app, req).await,
            Route::CreateCompany => create_company(app, req).await,
        }
    }
}

/// Matches `path` against a route path such as `/api/contacts/{id}`,
/// returning its parameters.
pub fn match_path(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    let mut t = template.trim_matches('/').split('/');
    let mut p = path.trim_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') && !ps.is_empty() => {
                params.insert(ts[1..ts.len() - 1].to_string(), ps.to_string());
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return None,
        }
    }
}

/// The error for a request no route took: 405 naming the methods the path
/// does serve, else 404. `methods_at` lists the methods routed at a path.
pub fn unrouted(methods_at: &[String]) -> ApiError {
    if methods_at.is_empty() {
        ApiError::NotFound("route")
    } else {
        ApiError::MethodNotAllowed {
            allow: methods_at.join(", "),
        }
    }
}

/// Answers a request that API Gateway's `$default` route sent because no
/// route matched it, in the envelope like every other answer (API Gateway's
/// own would be a bare `{"message":"Not Found"}`). The path may carry the
/// stage (`/prod/api/...`), which lambda_http puts back in.
pub async fn serve_unrouted(req: Request) -> Response<Body> {
    let path = req.uri().path();
    let unstaged = path
        .trim_start_matches('/')
        .split_once('/')
        .map_or("", |(_, rest)| rest);
    let methods: Vec<String> = Route::ALL
        .iter()
        .filter(|r| {
            match_path(r.path(), path)
                .or_else(|| match_path(r.path(), unstaged))
                .is_some()
        })
        .map(|r| r.method().to_string())
        .collect();
    let response = unrouted(&methods).into_response();
    tracing::info!(
        route = "none",
        method = %req.method(),
        status = response.status().as_u16(),
        "request"
    );
    response
}

/// Answers one request for `route`: checks the method and the API key, runs
/// the handler (through the idempotency record when the request carries an
/// `Idempotency-Key`), wraps the result or error in the envelope, turns a
/// panic into a 500, and logs one line (route, method, status, latency;
/// never bodies, headers or keys).
pub async fn serve(route: Route, app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let response = guarded(respond(route, app, req)).await;
    tracing::info!(
        route = route.binary(),
        method = %method,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Runs `answer`, turning a panic into a 500 envelope without internals.
pub async fn guarded(answer: impl Future<Output = Response<Body>>) -> Response<Body> {
    match AssertUnwindSafe(answer).catch_unwind().await {
        Ok(response) => response,
        Err(_) => ApiError::Internal("handler panicked".into()).into_response(),
    }
}

fn envelope(result: Result<Reply, ApiError>) -> Response<Body> {
    result.map_or_else(ApiError::into_response, Reply::into_response)
}

/// How long a request may take before it is answered 503 (with
/// `Retry-After`), so the client hears from the API rather than getting API
/// Gateway's bare 5xx when the function times out. It leaves room inside the
/// functions' 10 s timeout for recording an idempotent answer.
const REQUEST_BUDGET: Duration = Duration::from_millis(7_500);
/// Kept free before a Lambda deadline: `idempotency::finish` and the reply.
const DEADLINE_RESERVE: Duration = Duration::from_millis(2_500);

/// When the work of `req` must be done: `REQUEST_BUDGET` from now, or
/// earlier when the Lambda deadline in its context says so.
fn deadline_of(req: &Request) -> tokio::time::Instant {
    let budget = req
        .lambda_context_ref()
        .and_then(|ctx| ctx.deadline().duration_since(SystemTime::now()).ok())
        .map_or(REQUEST_BUDGET, |left| {
            left.saturating_sub(DEADLINE_RESERVE).min(REQUEST_BUDGET)
        });
    tokio::time::Instant::now() + budget
}

/// Runs `work` until `deadline`; past it, DynamoDB is too slow for now: 503.
async fn within<T>(
    deadline: tokio::time::Instant,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout_at(deadline, work)
        .await
        .unwrap_or(Err(ApiError::Unavailable))
}

async fn respond(route: Route, app: &App, mut req: Request) -> Response<Body> {
    if req.method() != route.method() {
        return ApiError::MethodNotAllowed {
            allow: route.method().to_string(),
        }
        .into_response();
    }
    let deadline = deadline_of(&req);
    let caller = match within(deadline, auth::authenticate(&app.store, req.headers())).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let Some(fresh_id) = route.new_resource_id() else {
        return envelope(within(deadline, route.handle(app, &req, &caller)).await);
    };
    let key = match idempotency::key_of(&req) {
        Ok(Some(key)) => key,
        Ok(None) => return envelope(within(deadline, route.handle(app, &req, &caller)).await),
        Err(e) => return e.into_response(),
    };
    let record_key = idempotency::record_key(&caller, route.binary(), &key);
    let owner = fresh_id.clone();
    let lease =
        idempotency::lease_seconds(deadline.saturating_duration_since(tokio::time::Instant::now()));
    let begin = idempotency::begin(
        &app.store,
        record_key.clone(),
        req.body().as_ref(),
        fresh_id,
        lease,
    );
    match within(deadline, begin).await {
        Err(e) => {
            if matches!(e, ApiError::Unavailable | ApiError::Internal(_)) {
                // The reservation or take-over may have landed all the same.
                idempotency::abandon(&app.store, &record_key, &owner).await;
            }
            e.into_response()
        }
        Ok(Begin::Replay(response)) => response,
        Ok(Begin::Run {
            record_key,
            resource_id,
            owner,
        }) => {
            req.extensions_mut().insert(PresetId(resource_id));
            // A panic or the deadline must still end the lease (as a 5xx,
            // which is not stored).
            let handled = within(deadline, route.handle(app, &req, &caller));
            let response = guarded(async { envelope(handled.await) }).await;
            idempotency::finish(&app.store, &record_key, &owner, &response).await;
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_envelope_without_internals() {
        let resp = guarded(async { panic!("secret internals") }).await;
        assert_eq!(resp.status(), 500);
        let body = std::str::from_utf8(resp.body().as_ref())
            .unwrap()
            .to_string();
        assert!(
            body.contains("internal_error") && !body.contains("secret"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_a_503() {
        let past = tokio::time::Instant::now();
        let slow = within(past, std::future::pending::<Result<(), ApiError>>()).await;
        assert_eq!(slow.unwrap_err().status(), 503);
        let soon = tokio::time::Instant::now() + Duration::from_secs(5);
        assert_eq!(within(soon, async { Ok(7) }).await.unwrap(), 7);
    }

    #[test]
    fn the_lambda_deadline_shortens_the_budget() {
        let mut req = Request::new(Body::Empty);
        let budget = |req: &Request| deadline_of(req) - tokio::time::Instant::now();
        assert!(budget(&req) <= REQUEST_BUDGET && budget(&req) > REQUEST_BUDGET / 2);
        let mut ctx = lambda_http::Context::default();
        let in_4s = SystemTime::now() + Duration::from_secs(4);
        ctx.deadline = in_4s
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        req.extensions_mut().insert(ctx);
        let b = budget(&req);
        assert!(
            b <= Duration::from_millis(1_500) && b > Duration::from_millis(1_000),
            "{b:?}"
        );
    }

    #[test]
    fn paths_match_route_paths() {
        assert_eq!(
            match_path("/api/contacts", "/api/contacts"),
            Some(HashMap::new())
        );
        assert_eq!(
            match_path("/api/contacts", "/api/contacts/"),
            Some(HashMap::new())
        );
        let p = match_path("/api/contacts/{id}", "/api/contacts/ct_1").unwrap();
        assert_eq!(p["id"], "ct_1");
        assert_eq!(match_path("/api/contacts/{id}", "/api/contacts"), None);
        assert_eq!(match_path("/api/contacts/{id}", "/api/contacts/a/b"), None);
        assert_eq!(match_path("/api/contacts", "/api/companies"), None);
    }

    #[tokio::test]
    async fn unrouted_requests_get_an_envelope_404_or_405() {
        let answer = |method: &str, path: &str| {
            let req = lambda_http::http::Request::builder()
                .method(method)
                .uri(path)
                .body(Body::Empty)
                .unwrap();
            serve_unrouted(req)
        };
        let r = answer("GET", "/prod/nowhere").await;
        assert_eq!(r.status(), 404);
        assert!(
            std::str::from_utf8(r.body().as_ref())
                .unwrap()
                .contains("\"ok\":false")
        );
        for path in ["/api/contacts/ct_1", "/prod/api/contacts/ct_1"] {
            let r = answer("DELETE", path).await;
            assert_eq!(r.status(), 405, "{path}");
            assert_eq!(r.headers()["allow"], "GET, PATCH");
        }
        assert_eq!(
            answer("PUT", "/prod/api/companies").await.headers()["allow"],
            "GET, POST"
        );
    }

    #[test]
    fn binaries_round_trip() {
        for r in Route::ALL {
            assert_eq!(Route::from_binary(r.binary()), Some(r));
        }
        assert_eq!(Route::from_binary("delete-contact"), None);
    }
}
