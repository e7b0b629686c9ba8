//! Running a route as a Lambda function.

use std::convert::Infallible;

use lambda_http::{Request, service_fn};

use crate::app::App;
use crate::routes::{Route, serve};

/// Sets up JSON logs, builds the app once for the container's lifetime,
/// opens the connection to DynamoDB during init, where Lambda gives the TLS
/// handshake a whole CPU (unless `DYNAMODB_WARM_UP=0`), and serves `route`
/// until Lambda stops the container.
///
/// The functions' `main`s run this on a current-thread runtime: Lambda sends
/// an environment one event at a time, so worker threads would only add
/// their start-up to every cold start.
pub async fn run(route: Route) -> Result<(), lambda_http::Error> {
    crate::logging::init();
    let app: &'static App = Box::leak(Box::new(App::from_env()));
    if std::env::var("DYNAMODB_WARM_UP").as_deref() != Ok("0") {
        app.open_connection().await;
    }
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(serve(route, app, req).await)
    }))
    .await
}

/// Serves API Gateway's `$default` route: requests no route matched.
pub async fn run_unrouted() -> Result<(), lambda_http::Error> {
    crate::logging::init();
    lambda_http::run(service_fn(|req: Request| async move {
        Ok::<_, Infallible>(crate::routes::serve_unrouted(req).await)
    }))
    .await
}
