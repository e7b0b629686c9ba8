//! Lambda entry point for the `get-contact` route: builds the app once, then serves events.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(shared::Route::GetContact).await
}
