//! Lambda entry point for the scheduled enrichment job: builds the app once, then runs on each event.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::enrich::lambda::run().await
}
