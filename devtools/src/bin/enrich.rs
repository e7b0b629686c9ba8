//! `make enrich`: one enrichment pass against the local DynamoDB (`make dev`'s),
//! with a progress bar and a summary.

use std::io::Write;

use devtools::template::{Template, default_path, ensure_tables};
use shared::enrich::queue::{Queue, epoch_ms};
use shared::enrich::{EnrichConfig, Enricher, Limits, Summary};
use shared::{App, Config};

const BAR_WIDTH: usize = 30;

fn bar(done: u64, total: u64, s: &Summary) -> String {
    let filled = if total == 0 {
        BAR_WIDTH
    } else {
        (done.min(total) as usize * BAR_WIDTH) / total as usize
    };
    format!(
        "\r[{}{}] {done}/{total}  enriched {}  not_found {}  failed {}",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH - filled),
        s.enriched,
        s.not_found,
        s.failed
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    shared::logging::init();
    let config = Config::from_env();
    if config.dynamodb_endpoint.is_none() {
        return Err(
            "DYNAMODB_ENDPOINT is not set: `make enrich` runs against a local DynamoDB".into(),
        );
    }
    let app = App::new(config);
    ensure_tables(
        &app.store.client,
        &app.config,
        &Template::load(&default_path())?,
    )
    .await?;
    let job = Enricher::new(EnrichConfig::from_env())?.job(&app.store);
    let total = Queue::new(app.store.clone())
        .count_due(epoch_ms(&shared::store::now()))
        .await?;
    eprintln!(
        "enrich: {total} contacts due in {} (providers: {})",
        app.config.contacts_table,
        job.providers
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let progress = |s: &Summary| {
        let done = s.processed + s.skipped + s.deferred + s.errors;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{}", bar(done, total, s));
        let _ = err.flush();
    };
    progress(&Summary::default());
    let summary = job.run(Limits::default(), &progress).await;
    eprintln!();
    println!(
        "processed {}  enriched {}  not_found {}  failed {}  seconds {:.2}",
        summary.processed, summary.enriched, summary.not_found, summary.failed, summary.seconds
    );
    println!("{summary}");
    Ok(())
}
