//! The enrichment job against DynamoDB Local: what it fills, that it never
//! overwrites a user, that it is idempotent and resumable, and how the HTTP
//! provider copes with a misbehaving service (a fake one on loopback).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::TestApi;
use devtools::fake_provider::{self, FakeProvider, Reply};
use futures::FutureExt;
use futures::future::BoxFuture;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use shared::contact::{Item, text_attr};
use shared::enrich::builtin::gravatar_url;
use shared::enrich::http::{HttpProvider, HttpSettings};
use shared::enrich::job::{Job, Outcome};
use shared::enrich::queue::{self, Meter, Queue};
use shared::enrich::{Change, EnrichConfig, Enricher, Limits, Lookup, Provider, Summary};

async fn item(api: &TestApi, id: &str) -> Item {
    api.app.store.get_contact(id).await.unwrap().unwrap()
}

async fn shown(api: &TestApi, id: &str) -> Value {
    let r = api.get(&format!("/api/contacts/{id}")).await;
    r.data().clone()
}

fn job_with(api: &TestApi, config: &EnrichConfig, providers: Vec<Box<dyn Provider>>) -> Job {
    config.job_with(
        Queue::new(api.app.store.clone()),
        providers,
        Arc::new(Meter::default()),
    )
}

async fn run(job: &Job) -> Summary {
    job.run(Limits::default(), &|_| {}).await
}

/// The default job: the built-in provider only.
fn builtin_job(api: &TestApi) -> Job {
    Enricher::new(EnrichConfig::default())
        .unwrap()
        .job(&api.app.store)
}

async fn run_builtin(api: &TestApi) -> Summary {
    run(&builtin_job(api)).await
}

fn http_settings(fake: &FakeProvider) -> HttpSettings {
    HttpSettings {
        url: fake.url.clone(),
        api_key: Some(fake_provider::API_KEY.into()),
        timeout: Duration::from_millis(500),
        concurrency: 4,
        retries: 2,
        retry_base: Duration::from_millis(1),
        max_inline_wait: Duration::from_millis(50),
        allow_private: true,
    }
}

fn http_provider(settings: HttpSettings) -> Box<HttpProvider> {
    Box::new(HttpProvider::new(settings, "US").unwrap())
}

/// The HTTP provider alone, against `fake`.
fn http_job(api: &TestApi, fake: &FakeProvider, config: &EnrichConfig) -> Job {
    job_with(api, config, vec![http_provider(http_settings(fake))])
}

/// Retries are due at once, so consecutive runs in a test can retry.
fn no_wait_config() -> EnrichConfig {
    let mut c = EnrichConfig::default();
    c.retry.base = Duration::ZERO;
    c
}

#[tokio::test]
async fn a_run_fills_what_the_builtin_provider_can_know() {
    let api = TestApi::new().await;
    let r = api
        .post(
            "/api/companies",
            json!({"name": "Acme", "domain": "acme.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let acme = r.data()["id"].as_str().unwrap().to_string();
    let jane = api
        .contact(json!({
            "email": "Jane@eng.acme.com", "full_name": "Jane Smith",
            "phone": "(202) 555-0142", "linkedin_url": "http://LinkedIn.com/in/Jane-Smith/"
        }))
        .await;
    let bob = api
        .contact(json!({"email": "bob@gmail.com", "first_name": "Bob", "last_name": "Ray"}))
        .await;
    let orphan = api.contact(json!({"company_id": acme})).await;

    let summary = run_builtin(&api).await;
    assert_eq!(
        (
            summary.processed,
            summary.enriched,
            summary.not_found,
            summary.failed
        ),
        (3, 2, 1, 0),
        "{summary}"
    );

    let j = shown(&api, &jane).await;
    assert_eq!(j["enrichment_status"], "enriched");
    assert_eq!(j["company_id"], acme.as_str());
    assert_eq!(j["company_name"], "Acme");
    assert_eq!(
        api.total(&format!("company_id={acme}")).await,
        2,
        "jane and the orphan: the company total moved with the link"
    );
    assert_eq!(
        (j["first_name"].as_str(), j["last_name"].as_str()),
        (Some("Jane"), Some("Smith"))
    );
    assert_eq!(j["phone"], "+12025550142");
    assert_eq!(j["linkedin_url"], "https://www.linkedin.com/in/jane-smith");
    assert_eq!(j["photo_url"], gravatar_url("Jane@eng.acme.com").as_str());
    let data = &j["enrichment_data"];
    assert_eq!(data["fields_set"]["company_id"], "builtin");
    assert_eq!(data["facts"]["builtin"]["free_mail"], false);
    assert_eq!(data["facts"]["builtin"]["email_domain"], "eng.acme.com");
    assert!(data["enriched_at"].is_string());

    let b = shown(&api, &bob).await;
    assert_eq!(b["full_name"], "Bob Ray");
    assert_eq!(b["enrichment_data"]["facts"]["builtin"]["free_mail"], true);
    assert!(b["company_id"].is_null(), "free mail links no company");
    assert_eq!(
        api.total("search=bob%20ray").await,
        1,
        "name_lc follows full_name"
    );

    assert_eq!(shown(&api, &orphan).await["enrichment_status"], "not_found");
    for id in [&jane, &bob, &orphan] {
        assert!(
            !queue::is_due(&item(&api, id).await, i64::MAX),
            "{id} left the queue"
        );
    }
}

#[tokio::test]
async fn a_second_run_changes_nothing() {
    let api = TestApi::new().await;
    let id = api
        .contact(json!({"email": "jane@acme.com", "full_name": "Jane Smith"}))
        .await;
    run_builtin(&api).await;
    let before = item(&api, &id).await;
    let again = run_builtin(&api).await;
    assert_eq!(again.processed, 0, "{again}");
    assert_eq!(item(&api, &id).await, before);
}

#[tokio::test]
async fn processing_the_same_contact_twice_changes_nothing_the_second_time() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let job = builtin_job(&api);
    let read = item(&api, &id).await;
    let first = job.process(read.clone()).await.unwrap();
    assert!(matches!(first, Outcome::Written { .. }), "{first:?}");
    let after_first = item(&api, &id).await;
    // The same stale read again, as a duplicate or overlapping run would have it.
    assert_eq!(job.process(read).await.unwrap(), Outcome::Skipped);
    assert_eq!(job.process_id(&id).await.unwrap(), Outcome::Skipped);
    assert_eq!(item(&api, &id).await, after_first);
}

/// Proposes a title, a photo and a LinkedIn URL; on its first lookup it lets
/// `during` run (a user's PATCH landing while the job works).
struct Racing {
    during: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
    calls: AtomicU32,
}

impl Provider for Racing {
    fn name(&self) -> &'static str {
        "racing"
    }

    fn lookup<'a>(&'a self, _contact: &'a Item) -> BoxFuture<'a, Lookup> {
        async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                (self.during)().await;
            }
            Lookup::Found {
                changes: vec![
                    Change::fill("title", "Engineer"),
                    Change::fill("photo_url", "https://img.example.com/jane.png"),
                    Change::fill("linkedin_url", "https://www.linkedin.com/in/jane"),
                ],
                facts: Default::default(),
            }
        }
        .boxed()
    }
}

#[tokio::test]
async fn a_patch_racing_the_job_survives_and_so_does_the_job() {
    let api = Arc::new(TestApi::new().await);
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let (api2, id2) = (api.clone(), id.clone());
    let racing = Racing {
        during: Box::new(move || {
            let (api, id) = (api2.clone(), id2.clone());
            async move {
                let r = api
                    .patch(
                        &format!("/api/contacts/{id}"),
                        json!({"title": "CEO", "photo_url": "https://user.example/me.png"}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            }
            .boxed()
        }),
        calls: AtomicU32::new(0),
    };
    let job = job_with(&api, &EnrichConfig::default(), vec![Box::new(racing)]);
    let summary = run(&job).await;
    assert_eq!((summary.enriched, summary.races), (1, 1), "{summary}");

    let c = shown(&api, &id).await;
    assert_eq!(c["title"], "CEO", "the user's title survives");
    assert_eq!(
        c["photo_url"], "https://user.example/me.png",
        "the user's photo survives"
    );
    assert_eq!(
        c["linkedin_url"], "https://www.linkedin.com/in/jane",
        "the job's work survives"
    );
    assert_eq!(c["enrichment_status"], "enriched");
    assert_eq!(c["version"], 3, "create, the user's patch, the job's write");
    let set = c["enrichment_data"]["fields_set"].as_object().unwrap();
    assert_eq!(set.keys().collect::<Vec<_>>(), vec!["linkedin_url"]);
}

#[tokio::test]
async fn patching_status_to_pending_requeues_and_any_other_status_dequeues() {
    let api = TestApi::new().await;
    let done = api.contact(json!({"email": "done@acme.com"})).await;
    run_builtin(&api).await;
    let r = api
        .patch(
            &format!("/api/contacts/{done}"),
            json!({"enrichment_status": "pending"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let manual = api.contact(json!({"email": "manual@acme.com"})).await;
    api.patch(
        &format!("/api/contacts/{manual}"),
        json!({"enrichment_status": "not_found"}),
    )
    .await;

    let summary = run_builtin(&api).await;
    assert_eq!(summary.processed, 1, "{summary}");
    assert_eq!(shown(&api, &done).await["enrichment_status"], "enriched");
    assert_eq!(
        shown(&api, &manual).await["enrichment_status"],
        "not_found",
        "the user's status wins"
    );
}

/// Always asks to be tried again later.
struct Down;

impl Provider for Down {
    fn name(&self) -> &'static str {
        "down"
    }

    fn lookup<'a>(&'a self, _contact: &'a Item) -> BoxFuture<'a, Lookup> {
        async {
            Lookup::Retry {
                reason: "down".into(),
                after: None,
            }
        }
        .boxed()
    }
}

#[tokio::test]
async fn failures_back_off_then_stay_failed_after_max_attempts() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let mut config = no_wait_config();
    config.retry.max_attempts = 3;
    let job = job_with(&api, &config, vec![Box::new(Down)]);

    let first = run(&job).await;
    assert_eq!((first.failed, first.retried), (1, 1), "{first}");
    let c = shown(&api, &id).await;
    assert_eq!(c["enrichment_status"], "failed");
    assert_eq!(c["enrichment_data"]["attempts"], 1);
    assert!(c["enrichment_data"]["next_attempt_at"].is_string());

    run(&job).await;
    let last = run(&job).await;
    assert_eq!((last.failed, last.retried), (1, 0), "{last}");
    let c = item(&api, &id).await;
    assert_eq!(text_attr(&c, "enrichment_status"), Some("failed"));
    assert!(!queue::is_due(&c, i64::MAX), "off the queue for good");
    assert_eq!(run(&job).await.processed, 0);

    // With a real backoff the next attempt is not due yet.
    let later = api.contact(json!({"email": "later@acme.com"})).await;
    let waiting = job_with(&api, &EnrichConfig::default(), vec![Box::new(Down)]);
    assert_eq!(run(&waiting).await.retried, 1);
    assert_eq!(run(&waiting).await.processed, 0, "not due again yet");
    let due = queue::due_at(&item(&api, &later).await).unwrap();
    assert!(due >= queue::epoch_ms(&shared::store::now()) + 50_000);
}

#[tokio::test]
async fn a_run_stops_at_its_limits_and_the_next_run_finishes() {
    let api = TestApi::new().await;
    for i in 0..5 {
        api.contact(json!({"email": format!("p{i}@acme.com")}))
            .await;
    }
    let job = builtin_job(&api);
    let past = job
        .run(
            Limits {
                stop_at: Some(Instant::now()),
                ..Default::default()
            },
            &|_| {},
        )
        .await;
    assert_eq!(past.processed, 0);
    assert!(past.stopped_early);
    let two = job
        .run(
            Limits {
                max_contacts: Some(2),
                ..Default::default()
            },
            &|_| {},
        )
        .await;
    assert_eq!(two.processed, 2, "{two}");
    assert!(two.stopped_early);
    let rest = run(&job).await;
    assert_eq!((rest.processed, rest.stopped_early), (3, false), "{rest}");
}

#[tokio::test]
async fn the_lambda_handler_stops_before_the_deadline_in_its_context() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let enricher = Enricher::new(EnrichConfig::default()).unwrap();
    // Less time left than the reserve: the run starts nothing.
    let soon = queue::epoch_ms(&shared::store::now()) as u64 + 1_000;
    let s = shared::enrich::lambda::handle(&api.app, &enricher, soon).await;
    assert_eq!((s.processed, s.stopped_early), (0, true), "{s}");
    assert!(queue::is_due(&item(&api, &id).await, i64::MAX));
    let later = queue::epoch_ms(&shared::store::now()) as u64 + 60_000;
    let s = shared::enrich::lambda::handle(&api.app, &enricher, later).await;
    assert_eq!((s.processed, s.stopped_early), (1, false), "{s}");
}

#[tokio::test]
async fn a_slow_provider_cannot_make_a_run_overrun_its_deadline() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    // Far slower than the time left, and than the request timeout allows for.
    fake.set_delay(Duration::from_secs(20));
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            api.contact(json!({"email": format!("slow{i}@acme.com")}))
                .await,
        );
    }
    let mut settings = http_settings(&fake);
    settings.timeout = Duration::from_secs(30);
    settings.concurrency = 2; // the rest wait for a slot, also past the deadline
    let config = EnrichConfig {
        deadline_reserve: Duration::from_millis(1_000),
        http: Some(settings),
        ..no_wait_config()
    };
    let enricher = Enricher::new(config).unwrap();
    let deadline = queue::epoch_ms(&shared::store::now()) as u64 + 2_000;
    let s = shared::enrich::lambda::handle(&api.app, &enricher, deadline).await;
    let now = queue::epoch_ms(&shared::store::now()) as u64;
    assert!(
        now < deadline,
        "returned {} ms after the deadline",
        now - deadline
    );
    assert_eq!((s.processed, s.interrupted), (0, 6), "{s}");
    assert!(s.stopped_early);
    for id in &ids {
        let c = item(&api, id).await;
        assert_eq!(text_attr(&c, "enrichment_status"), Some("pending"));
        assert!(queue::is_due(&c, i64::MAX), "{id} is still due");
        assert_eq!(shown(&api, id).await["version"], 1, "{id} untouched");
    }
    // Nothing was lost: once the service answers, the next run does them all.
    fake.set_delay(Duration::ZERO);
    let later = queue::epoch_ms(&shared::store::now()) as u64 + 60_000;
    let s = shared::enrich::lambda::handle(&api.app, &enricher, later).await;
    assert_eq!((s.enriched, s.interrupted), (6, 0), "{s}");
}

/// Answers like the built-in provider would, but never returns from call
/// number `hang_at` onward, telling `hung` when it gets there.
struct Hangs {
    calls: AtomicU32,
    hang_at: u32,
    hung: Arc<tokio::sync::Notify>,
}

impl Provider for Hangs {
    fn name(&self) -> &'static str {
        "hangs"
    }

    fn lookup<'a>(&'a self, _contact: &'a Item) -> BoxFuture<'a, Lookup> {
        async move {
            if self.calls.fetch_add(1, Ordering::SeqCst) + 1 >= self.hang_at {
                self.hung.notify_one();
                futures::future::pending::<()>().await;
            }
            Lookup::Found {
                changes: vec![Change::fill("title", "Engineer")],
                facts: Default::default(),
            }
        }
        .boxed()
    }
}

#[tokio::test]
async fn a_run_killed_midway_loses_nothing() {
    let api = TestApi::new().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            api.contact(json!({"email": format!("k{i}@acme.com")}))
                .await,
        );
    }
    let config = EnrichConfig {
        concurrency: 1,
        ..Default::default()
    };
    let hung = Arc::new(tokio::sync::Notify::new());
    let dying = job_with(
        &api,
        &config,
        vec![Box::new(Hangs {
            calls: AtomicU32::new(0),
            hang_at: 3,
            hung: hung.clone(),
        })],
    );
    tokio::select! {
        s = run(&dying) => panic!("the run should hang, not finish: {s}"),
        _ = hung.notified() => {} // the run is dropped here, mid-contact
    }
    drop(dying);

    let mut enriched = 0;
    for id in &ids {
        let c = item(&api, id).await;
        match text_attr(&c, "enrichment_status") {
            Some("enriched") => enriched += 1,
            Some("pending") => assert!(queue::is_due(&c, i64::MAX), "{id} still queued"),
            other => panic!("{id}: {other:?}"),
        }
    }
    assert_eq!(enriched, 2);
    let rest = run_builtin(&api).await;
    assert_eq!(rest.processed, 4, "only what the killed run left: {rest}");
    for id in &ids {
        assert_eq!(
            text_attr(&item(&api, id).await, "enrichment_status"),
            Some("enriched")
        );
    }
}

#[tokio::test]
async fn the_http_provider_fills_found_people_and_marks_unknown_ones() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    let found = api
        .contact(json!({"email": "ann@acme.com", "title": "Founder"}))
        .await;
    let unknown = api.contact(json!({"email": "nobody@acme.com"})).await;
    let summary = run(&http_job(&api, &fake, &EnrichConfig::default())).await;
    assert_eq!((summary.enriched, summary.not_found), (1, 1), "{summary}");
    let c = shown(&api, &found).await;
    assert_eq!(
        c["title"], "Founder",
        "the user's title wins over the provider's"
    );
    assert_eq!(c["photo_url"], "https://img.example.com/ann.png");
    assert_eq!(c["enrichment_data"]["fields_set"]["photo_url"], "http");
    assert_eq!(
        shown(&api, &unknown).await["enrichment_status"],
        "not_found"
    );
}

#[tokio::test]
async fn a_name_the_job_fills_in_is_found_by_search() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.script(
        "zed@acme.com",
        [Reply::Data(json!({"full_name": "Zedekiah Quarrington"}))],
    );
    let id = api.contact(json!({"email": "zed@acme.com"})).await;
    assert_eq!(api.total("search=quarrington").await, 0);
    let summary = run(&http_job(&api, &fake, &EnrichConfig::default())).await;
    assert_eq!(summary.enriched, 1, "{summary}");
    assert_eq!(shown(&api, &id).await["full_name"], "Zedekiah Quarrington");
    assert_eq!(
        api.total("search=quarrington").await,
        1,
        "the search copy follows"
    );
    assert_eq!(api.total("search=zed@acme").await, 1);
}

#[tokio::test]
async fn the_http_provider_retries_throttling_and_errors_within_a_lookup() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.script("t@acme.com", [Reply::Throttle(0), Reply::ServerError]);
    let id = api.contact(json!({"email": "t@acme.com"})).await;
    let summary = run(&http_job(&api, &fake, &EnrichConfig::default())).await;
    assert_eq!(summary.enriched, 1, "{summary}");
    assert_eq!(fake.calls(), 3);
    assert_eq!(shown(&api, &id).await["title"], "Engineer");
}

#[tokio::test]
async fn persistent_errors_timeouts_and_garbage_reschedule_the_contact() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.script(
        "err@acme.com",
        [Reply::ServerError, Reply::ServerError, Reply::ServerError],
    );
    fake.script(
        "slow@acme.com",
        vec![Reply::Hang(Duration::from_secs(5)); 3],
    );
    fake.script(
        "junk@acme.com",
        [Reply::Garbage, Reply::Garbage, Reply::Garbage],
    );
    fake.script("wait@acme.com", [Reply::Throttle(3600)]);
    let mut ids = Vec::new();
    for e in ["err", "slow", "junk", "wait"] {
        ids.push(api.contact(json!({"email": format!("{e}@acme.com")})).await);
    }
    let config = no_wait_config();
    let job = http_job(&api, &fake, &config);
    let first = run(&job).await;
    assert_eq!((first.failed, first.retried), (4, 4), "{first}");
    for id in &ids {
        let c = shown(&api, id).await;
        assert_eq!(c["enrichment_status"], "failed");
        assert_eq!(c["enrichment_data"]["attempts"], 1);
    }
    let wait = item(&api, &ids[3]).await;
    assert!(
        queue::due_at(&wait).unwrap() >= queue::epoch_ms(&shared::store::now()) + 3_000_000,
        "Retry-After is honoured"
    );
    // The service recovered: the next run enriches the three due again.
    let second = run(&job).await;
    assert_eq!(second.enriched, 3, "{second}");
}

#[tokio::test]
async fn the_http_provider_keeps_to_its_concurrency_limit() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.set_delay(Duration::from_millis(20));
    for i in 0..12 {
        api.contact(json!({"email": format!("c{i}@acme.com")}))
            .await;
    }
    let mut settings = http_settings(&fake);
    settings.concurrency = 2;
    let job = job_with(
        &api,
        &EnrichConfig::default(),
        vec![http_provider(settings)],
    );
    assert_eq!(run(&job).await.enriched, 12);
    assert!(
        fake.max_in_flight() <= 2,
        "{} in flight",
        fake.max_in_flight()
    );
}

#[tokio::test]
async fn the_http_provider_refuses_internal_addresses_without_the_dev_flag() {
    let fake = FakeProvider::start().await;
    let mut settings = http_settings(&fake);
    settings.allow_private = false;
    assert!(
        HttpProvider::new(settings.clone(), "US").is_err(),
        "http://127.0.0.1"
    );
    settings.url = fake.url.replace("http://127.0.0.1", "https://localhost");
    assert!(
        HttpProvider::new(settings.clone(), "US").is_err(),
        "https://localhost"
    );
    let refused = EnrichConfig {
        http: Some(settings),
        ..Default::default()
    };
    assert!(
        Enricher::new(refused).is_err(),
        "the Lambda fails at init, not per run"
    );
}

#[test]
fn the_template_projects_what_the_job_reads() {
    let raw = std::fs::read_to_string(devtools::template::default_path()).unwrap();
    let t: serde_yaml::Value = serde_yaml::from_str(&raw).unwrap();
    let gsis = t["Resources"]["ContactsTable"]["Properties"]["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap();
    let gsi = gsis
        .iter()
        .find(|g| g["IndexName"] == queue::INDEX)
        .unwrap();
    let mut projected: Vec<&str> = gsi["Projection"]["NonKeyAttributes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected = queue::PROJECTED.to_vec();
    projected.sort_unstable();
    expected.sort_unstable();
    assert_eq!(projected, expected);
}

#[tokio::test]
async fn the_http_provider_sends_the_configured_key() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    let id = api.contact(json!({"email": "ann@acme.com"})).await;
    let mut settings = http_settings(&fake);
    for key in [Some("wrong-key".to_string()), None] {
        settings.api_key = key;
        let job = job_with(
            &api,
            &no_wait_config(),
            vec![http_provider(settings.clone())],
        );
        let s = run(&job).await;
        assert_eq!((s.failed, s.retried), (1, 1), "{s}");
    }
    assert_eq!(
        (fake.unauthorized(), fake.calls()),
        (2, 0),
        "one refused call per run: a 401 is not retried within the lookup"
    );
    let c = shown(&api, &id).await;
    assert_eq!(c["enrichment_data"]["last_error"], "refused (401)");
    // With the configured key the same contact goes through.
    assert_eq!(
        run(&http_job(&api, &fake, &no_wait_config()))
            .await
            .enriched,
        1
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    let in_an_hour = std::time::SystemTime::now() + Duration::from_secs(3600);
    fake.script("date@acme.com", [Reply::ThrottleUntil(in_an_hour)]);
    let id = api.contact(json!({"email": "date@acme.com"})).await;
    let s = run(&http_job(&api, &fake, &no_wait_config())).await;
    assert_eq!(s.retried, 1, "{s}");
    assert_eq!(
        fake.calls(),
        1,
        "an hour is too long to wait within the lookup"
    );
    let due = queue::due_at(&item(&api, &id).await).unwrap();
    let now = queue::epoch_ms(&shared::store::now());
    assert!(
        due >= now + 3_590_000 && due <= now + 3_600_000,
        "due in {} s",
        (due - now) / 1000
    );
}

#[tokio::test]
async fn with_a_person_source_a_404_is_not_found_though_the_builtin_still_tidies() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.script(
        "ann@acme.com",
        [Reply::Data(json!({
            "title": "CTO",
            "phone": "+1 (202) 555-0199",
            "linkedin_url": "http://uk.LinkedIn.com/in/Ann-X/?trk=1",
        }))],
    );
    let ann = api.contact(json!({"email": "ann@acme.com"})).await;
    let nobody = api
        .contact(json!({"email": "nobody@acme.com", "phone": "(202) 555-0142"}))
        .await;
    let config = EnrichConfig {
        http: Some(http_settings(&fake)),
        ..Default::default()
    };
    let s = run(&Enricher::new(config).unwrap().job(&api.app.store)).await;
    assert_eq!((s.enriched, s.not_found), (1, 1), "{s}");

    let a = shown(&api, &ann).await;
    assert_eq!(a["enrichment_status"], "enriched");
    assert_eq!(a["enrichment_data"]["found_by"], json!(["http"]));
    assert_eq!(a["phone"], "+12025550199", "the provider's phone in E.164");
    assert_eq!(a["linkedin_url"], "https://www.linkedin.com/in/ann-x");
    assert_eq!(a["enrichment_data"]["fields_set"]["phone"], "http");

    let n = shown(&api, &nobody).await;
    assert_eq!(n["enrichment_status"], "not_found");
    assert_eq!(n["enrichment_data"]["found_by"], json!([]));
    assert_eq!(
        n["enrichment_data"]["providers"],
        json!(["http", "builtin"])
    );
    assert_eq!(
        n["phone"], "+12025550142",
        "the built-in's tidying still lands"
    );
    assert_eq!(
        n["enrichment_data"]["facts"]["builtin"]["email_domain"],
        "acme.com"
    );
}

#[tokio::test]
async fn a_users_enrichment_data_is_kept_through_failures_and_enrichment() {
    let api = TestApi::new().await;
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let r = api
        .patch(
            &format!("/api/contacts/{id}"),
            json!({"enrichment_data": {"crm": "hubspot", "score": 7}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let failing = job_with(&api, &no_wait_config(), vec![Box::new(Down)]);
    let s = run(&failing).await;
    assert_eq!((s.retried, s.races), (1, 0), "{s}");
    let data = shown(&api, &id).await["enrichment_data"].clone();
    assert_eq!(
        (data["crm"].clone(), data["score"].clone()),
        (json!("hubspot"), json!(7))
    );
    assert_eq!(data["attempts"], 1);

    let s = run_builtin(&api).await;
    assert_eq!((s.enriched, s.races), (1, 0), "{s}");
    let data = shown(&api, &id).await["enrichment_data"].clone();
    assert_eq!(
        (data["crm"].clone(), data["score"].clone()),
        (json!("hubspot"), json!(7))
    );
    assert!(data["enriched_at"].is_string());
    assert!(
        data.get("attempts").is_none() && data.get("last_error").is_none(),
        "the job's own failure notes are replaced: {data}"
    );
}

#[tokio::test]
async fn enrichment_data_patched_while_the_job_works_survives() {
    let api = Arc::new(TestApi::new().await);
    let id = api.contact(json!({"email": "jane@acme.com"})).await;
    let (api2, id2) = (api.clone(), id.clone());
    let racing = Racing {
        during: Box::new(move || {
            let (api, id) = (api2.clone(), id2.clone());
            async move {
                let r = api
                    .patch(
                        &format!("/api/contacts/{id}"),
                        json!({"enrichment_data": {"crm": "salesforce"}}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            }
            .boxed()
        }),
        calls: AtomicU32::new(0),
    };
    let job = job_with(&api, &EnrichConfig::default(), vec![Box::new(racing)]);
    let s = run(&job).await;
    assert_eq!((s.enriched, s.races), (1, 1), "{s}");
    let c = shown(&api, &id).await;
    assert_eq!(c["enrichment_data"]["crm"], "salesforce");
    assert_eq!(c["enrichment_data"]["found_by"], json!(["racing"]));
    assert_eq!(c["title"], "Engineer");
}

#[tokio::test]
async fn a_company_created_after_a_run_is_linked_by_the_next_run_of_the_same_container() {
    let api = TestApi::new().await;
    let enricher = Enricher::new(EnrichConfig::default()).unwrap();
    let id = api.contact(json!({"email": "jane@newco.com"})).await;
    run(&enricher.job(&api.app.store)).await;
    assert!(shown(&api, &id).await["company_id"].is_null());

    let r = api
        .post(
            "/api/companies",
            json!({"name": "Newco", "domain": "newco.com"}),
        )
        .await;
    let newco = r.data()["id"].as_str().unwrap().to_string();
    api.patch(
        &format!("/api/contacts/{id}"),
        json!({"enrichment_status": "pending"}),
    )
    .await;
    let s = run(&enricher.job(&api.app.store)).await;
    assert_eq!(s.enriched, 1, "{s}");
    assert_eq!(
        shown(&api, &id).await["company_id"],
        newco.as_str(),
        "no company lookup is cached from the earlier run"
    );
}

#[tokio::test]
async fn a_lookup_waiting_to_retry_gives_its_slot_to_another() {
    let api = TestApi::new().await;
    let fake = FakeProvider::start().await;
    fake.script("a@acme.com", [Reply::ServerError]);
    fake.script("b@acme.com", [Reply::ServerError]);
    api.contact(json!({"email": "a@acme.com"})).await;
    api.contact(json!({"email": "b@acme.com"})).await;
    let mut settings = http_settings(&fake);
    settings.concurrency = 1;
    settings.retry_base = Duration::from_millis(300);
    settings.max_inline_wait = Duration::from_secs(1);
    let job = job_with(
        &api,
        &EnrichConfig::default(),
        vec![http_provider(settings)],
    );
    assert_eq!(run(&job).await.enriched, 2);
    let log = fake.log();
    assert_eq!(log.len(), 4, "{log:?}");
    assert_ne!(
        log[0], log[1],
        "the second contact was asked while the first waited to retry: {log:?}"
    );
}
