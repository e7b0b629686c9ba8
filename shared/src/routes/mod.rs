//! The API's routes. Each Lambda binary serves one [`Route`]; the dev server
//! serves them all. [`serve`] is the one pipeline every request goes
//! through: method check, auth, handler, envelope, log line.

pub mod companies;
pub mod contacts;

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, Caller};
use crate::envelope::Reply;
use crate::error::ApiError;

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

    pub fn method(self) -> Method {
        match self {
            Route::ListContacts | Route::GetContact | Route::ListCompanies | Route::GetCompany => {
                Method::GET
            }
            Route::CreateContact | Route::CreateCompany => Method::POST,
            Route::UpdateContact => Method::PATCH,
        }
    }

    async fn handle(self, app: &App, req: &Request, _caller: &Caller) -> Result<Reply, ApiError> {
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

/// Answers one request for `route`: checks the method and the API key, runs
/// the handler, wraps the result or error in the envelope, turns a panic into
/// a 500, and logs one line (route, method, status, latency; never bodies,
/// headers or keys).
pub async fn serve(route: Route, app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let outcome = AssertUnwindSafe(async {
        if req.method() != route.method() {
            return Err(ApiError::MethodNotAllowed);
        }
        let caller = auth::authenticate(&app.store, req.headers()).await?;
        route.handle(app, &req, &caller).await
    })
    .catch_unwind()
    .await;
    let response = match outcome {
        Ok(Ok(reply)) => reply.into_response(),
        Ok(Err(err)) => err.into_response(),
        Err(_) => ApiError::Internal("handler panicked".into()).into_response(),
    };
    tracing::info!(
        route = route.binary(),
        method = %method,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_round_trip() {
        for r in Route::ALL {
            assert_eq!(Route::from_binary(r.binary()), Some(r));
        }
        assert_eq!(Route::from_binary("delete-contact"), None);
    }
}
