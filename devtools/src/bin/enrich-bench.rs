//! `make enrich-bench`: the enrichment figures of docs/enrichment.md, measured
//! on DynamoDB Local in fresh tables.
//!
//! 1. Throughput: N pending contacts (default 10,000) enriched by the built-in
//!    provider in one run; contacts/s and capacity units per contact.
//! 2. Fault run: M contacts (default 1,000) against the fake HTTP service
//!    failing a share of calls (default 30%, 429 and 500) with no in-call
//!    retries, while users edit contacts during the runs; runs until nothing
//!    is due, then checks every contact ended `enriched`, none was enriched
//!    twice and no user edit was lost.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use devtools::fake_provider::{self, FakeProvider};
use devtools::template::{Template, default_path, ensure_tables};
use futures::StreamExt;
use serde_json::{Value, json};
use shared::contact::{NewContact, text_attr};
use shared::enrich::http::{HttpProvider, HttpSettings};
use shared::enrich::queue::{Meter, Queue, epoch_ms};
use shared::enrich::{EnrichConfig, Enricher, Limits, Summary};
use shared::fields::{COMPANY_FIELDS, CONTACT_FIELDS};
use shared::store::now;
use shared::validate::{self, Mode};
use shared::{App, Config, company, ids};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn fresh_app(label: &str) -> Result<App, Error> {
    let suffix = format!(
        "_{label}_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let app = App::new(Config::from_env().with_table_suffix(&suffix));
    ensure_tables(
        &app.store.client,
        &app.config,
        &Template::load(&default_path())?,
    )
    .await?;
    Ok(app)
}

fn input(body: Value, mode: Mode) -> shared::validate::Input {
    let table = if body.get("name").is_some() {
        COMPANY_FIELDS
    } else {
        CONTACT_FIELDS
    };
    validate::fields(body.as_object().cloned().unwrap_or_default(), table, mode)
        .expect("bench input is valid")
}

/// Creates `companies` companies (`co{i}.example.com`) and `n` contacts: most
/// at a company domain, a third on free mail, with names, phones and
/// LinkedIn URLs in the shapes people type them.
async fn seed(app: &App, n: u64, companies: u64) -> Result<Vec<String>, Error> {
    for i in 0..companies {
        let body = json!({"name": format!("Company {i}"), "domain": format!("co{i}.example.com")});
        let item =
            company::new_company(&input(body, Mode::Create), &ids::new_company_id(), &now())?;
        app.store.create_company(item).await?;
    }
    let contacts = futures::stream::iter(0..n)
        .map(|i| async move {
            let email = if i % 3 == 0 {
                format!("person{i}@gmail.com")
            } else {
                format!("person{i}@co{}.example.com", i % companies.max(1))
            };
            let mut body = json!({"email": email, "full_name": format!("Person Number{i}")});
            if i % 2 == 0 {
                body["phone"] = json!(format!("(202) 555-{:04}", i % 10_000));
            }
            if i % 5 == 0 {
                body["linkedin_url"] = json!(format!("http://LinkedIn.com/in/Person-{i}/"));
            }
            let contact =
                NewContact::from_input(&input(body, Mode::Create), ids::new_contact_id(), &now())?;
            app.store.create_contact(&contact).await?;
            Ok::<_, Error>(contact.id)
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    contacts.into_iter().collect()
}

async fn throughput(n: u64) -> Result<(), Error> {
    let app = fresh_app("bench").await?;
    let seeding = Instant::now();
    seed(&app, n, 50).await?;
    eprintln!(
        "seeded {n} contacts in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let config = EnrichConfig::from_env();
    let job = Enricher::new(config.clone())?.job(&app.store);
    let s = job.run(Limits::default(), &|_| {}).await;
    let left = Queue::new(app.store.clone()).count_due(i64::MAX).await?;
    println!("## Throughput, built-in provider, {n} pending contacts");
    println!("- run: {s}");
    println!("- contacts/s: {:.0}", s.rate());
    println!(
        "- capacity units per contact: {:.2} read + {:.2} write = {:.2} (concurrency {})",
        s.read_units / s.processed.max(1) as f64,
        s.write_units / s.processed.max(1) as f64,
        (s.read_units + s.write_units) / s.processed.max(1) as f64,
        config.concurrency
    );
    println!("- still due afterwards: {left}");
    if s.processed != n || left != 0 {
        return Err(format!(
            "expected {n} processed and none left, got {} and {left}",
            s.processed
        )
        .into());
    }
    Ok(())
}

/// A user's edit: the contact, the field and the value that must survive.
type Edit = (String, &'static str, String);

async fn edit(app: &App, e: &Edit) -> Result<(), Error> {
    let (id, field, value) = e;
    app.store
        .update_contact(id, &input(json!({ *field: value }), Mode::Patch), None)
        .await?;
    Ok(())
}

async fn faults(m: u64, percent: u64) -> Result<(), Error> {
    let app = fresh_app("faults").await?;
    let fake = FakeProvider::start().await;
    fake.set_fault_percent(percent);
    let ids = seed(&app, m, 20).await?;
    let mut config = EnrichConfig::from_env();
    config.retry.base = Duration::ZERO;
    config.retry.max_attempts = 20;
    let settings = HttpSettings {
        url: fake.url.clone(),
        api_key: Some(fake_provider::API_KEY.into()),
        timeout: Duration::from_secs(5),
        concurrency: 8,
        retries: 0,
        retry_base: Duration::from_millis(1),
        max_inline_wait: Duration::ZERO,
        allow_private: true,
    };

    // Every 10th contact gets a user title and every 25th a user photo while the job runs.
    let mut edits: Vec<Edit> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if i % 10 == 0 {
            edits.push((id.clone(), "title", format!("User title {i}")));
        }
        if i % 25 == 0 {
            edits.push((
                id.clone(),
                "photo_url",
                format!("https://user.example/{i}.png"),
            ));
        }
    }
    // Built once, as the Lambda does per container.
    let provider = Arc::new(HttpProvider::new(settings, &config.phone_region)?);
    let mut runs: Vec<Summary> = Vec::new();
    let mut pending_edits = edits.clone();
    while runs.len() < 30 {
        let meter = Arc::new(Meter::default());
        let queue = Queue::new(app.store.clone());
        let job = config.job_with(queue.clone(), vec![Box::new(provider.clone())], meter);
        // This run's share of the edits lands while it works.
        let batch: Vec<Edit> = pending_edits
            .drain(..pending_edits.len().min(edits.len() / 3 + 1))
            .collect();
        let editor = {
            let app = app.clone();
            tokio::spawn(async move {
                for e in &batch {
                    edit(&app, e).await?;
                    tokio::task::yield_now().await;
                }
                Ok::<_, Error>(())
            })
        };
        let s = job.run(Limits::default(), &|_| {}).await;
        editor.await??;
        eprintln!("run {}: {s}", runs.len() + 1);
        runs.push(s);
        if queue.count_due(i64::MAX).await? == 0 && pending_edits.is_empty() {
            break;
        }
    }

    let mut statuses: HashMap<String, u64> = HashMap::new();
    let mut emails = HashMap::new();
    for id in &ids {
        let item = app.store.get_contact(id).await?.ok_or("contact vanished")?;
        *statuses
            .entry(
                text_attr(&item, "enrichment_status")
                    .unwrap_or("?")
                    .to_string(),
            )
            .or_default() += 1;
        emails.insert(
            id.clone(),
            text_attr(&item, "email").unwrap_or_default().to_lowercase(),
        );
    }
    let mut lost = 0;
    for (id, field, value) in &edits {
        let item = app.store.get_contact(id).await?.ok_or("contact vanished")?;
        if text_attr(&item, field) != Some(value.as_str()) {
            lost += 1;
            eprintln!(
                "LOST: {id} {field} = {:?}, user set {value:?}",
                text_attr(&item, field)
            );
        }
    }
    let served = fake.served();
    let twice = ids
        .iter()
        .filter(|id| served.get(&emails[*id]).copied().unwrap_or(0) > 1)
        .count();
    let enriched_writes: u64 = runs.iter().map(|r| r.enriched).sum();
    let total = |f: fn(&Summary) -> u64| runs.iter().map(f).sum::<u64>();
    println!(
        "## Fault run: {m} contacts, fake provider failing {percent}% of calls (429/500), no in-call retries"
    );
    println!("- runs until nothing was due: {}", runs.len());
    for (i, r) in runs.iter().enumerate() {
        println!(
            "  - run {}: processed {}, enriched {}, failed {}, races merged {}",
            i + 1,
            r.processed,
            r.enriched,
            r.failed,
            r.races
        );
    }
    println!(
        "- provider calls: {} (of which failed: {})",
        fake.calls(),
        total(|r| r.failed)
    );
    println!("- final statuses: {statuses:?}");
    println!(
        "- enriched writes in all runs: {enriched_writes} for {m} contacts; contacts served data more than once: {twice}"
    );
    println!(
        "- user edits made during the runs: {}, lost: {lost}",
        edits.len()
    );
    let all_enriched = statuses.get("enriched").copied().unwrap_or(0) == m;
    if !all_enriched || enriched_writes != m || twice != 0 || lost != 0 {
        return Err("fault run failed its checks".into());
    }
    println!("- checks: every contact enriched, none enriched twice, no user edit lost: OK");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if Config::from_env().dynamodb_endpoint.is_none() {
        return Err("DYNAMODB_ENDPOINT is not set: the bench runs against DynamoDB Local (use `make enrich-bench`)".into());
    }
    let started = epoch_ms(&now());
    throughput(arg("--contacts", 10_000)).await?;
    faults(arg("--fault-contacts", 1_000), arg("--fault-percent", 30)).await?;
    eprintln!(
        "bench done in {:.0} s",
        (epoch_ms(&now()) - started) as f64 / 1000.0
    );
    Ok(())
}
