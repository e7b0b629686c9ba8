//! Lambda entry point for API Gateway's `$default` route: answers requests
//! that match no route with a 404 or 405 in the API's envelope.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run_unrouted().await
}
