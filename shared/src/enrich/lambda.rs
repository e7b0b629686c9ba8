//! Running the job as a Lambda function on an EventBridge schedule.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use super::config::{EnrichConfig, Enricher};
use super::job::Limits;
use super::report::Summary;
use crate::app::App;

/// The binary, and the `Function` dimension of the metrics.
pub const FUNCTION: &str = "enrich-contacts";

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// One scheduled run: works until `deadline_ms` (epoch ms, from the Lambda
/// context) minus the configured reserve, logs the summary as one EMF line,
/// and returns it. The event's content does not matter.
pub async fn handle(app: &App, enricher: &Enricher, deadline_ms: u64) -> Summary {
    let remaining = Duration::from_millis(deadline_ms.saturating_sub(epoch_ms()));
    let job = enricher.job(&app.store);
    let summary = job
        .run(
            Limits::before_deadline(remaining, enricher.config.deadline_reserve),
            &|_| {},
        )
        .await;
    println!("{}", summary.emf(FUNCTION, epoch_ms() as i64));
    summary
}

/// The thin main's body: JSON logs, then what lives for the whole container
/// (the DynamoDB client, the settings, the HTTP provider's client) built
/// once, then one run per scheduled event.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::logging::init();
    let app: &'static App = Box::leak(Box::new(App::from_env()));
    let enricher: &'static Enricher = Box::leak(Box::new(Enricher::new(EnrichConfig::from_env())?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(handle(app, enricher, event.context.deadline).await)
    }))
    .await
}
