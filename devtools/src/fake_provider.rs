//! A stand-in for a person-enrichment service, served on loopback, for the
//! HTTP provider's tests and the fault bench. Like the real thing it refuses
//! a call without its key (`Authorization: Bearer` [`API_KEY`], else 401);
//! it answers from a per-email script when there is one, else by its fault
//! rate, and counts what it did.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The key the service expects.
pub const API_KEY: &str = "fake-provider-key";

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200 with this body.
    Data(Value),
    NotFound,
    /// 429 with `Retry-After: secs`.
    Throttle(u64),
    /// 429 with `Retry-After` as an HTTP date.
    ThrottleUntil(SystemTime),
    ServerError,
    /// 200 with a body that is not JSON.
    Garbage,
    /// Answers only after this long (longer than the client's timeout).
    Hang(Duration),
}

#[derive(Default)]
struct Inner {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// Percent of unscripted calls that fail (alternately 429 and 500).
    fault_percent: AtomicU64,
    calls: AtomicU64,
    /// Calls refused for a missing or wrong key.
    unauthorized: AtomicU64,
    /// The email of every answered call, in the order they arrived.
    log: Mutex<Vec<String>>,
    /// 200s with data, per email.
    served: Mutex<HashMap<String, u64>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Extra latency of every answer.
    delay_ms: AtomicU64,
}

/// A running fake service.
#[derive(Clone)]
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT/v1/person`
    pub url: String,
    inner: Arc<Inner>,
}

/// What the service knows about an unscripted address: a title, a photo and
/// a LinkedIn profile derived from the local part. Addresses starting with
/// `nobody` are unknown (404).
pub fn person_for(email: &str) -> Option<Value> {
    let local = email
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if local.starts_with("nobody") {
        return None;
    }
    let slug: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(json!({
        "title": "Engineer",
        "photo_url": format!("https://img.example.com/{slug}.png"),
        "linkedin_url": format!("https://www.linkedin.com/in/{slug}"),
    }))
}

impl FakeProvider {
    /// Starts the service on a free loopback port.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/v1/person", axum::routing::post(answer))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider {
            url: format!("http://{addr}/v1/person"),
            inner,
        }
    }

    /// Answers the next calls for `email` with `replies`, in order.
    pub fn script(&self, email: &str, replies: impl IntoIterator<Item = Reply>) {
        if let Ok(mut s) = self.inner.scripts.lock() {
            s.entry(email.to_ascii_lowercase())
                .or_default()
                .extend(replies);
        }
    }

    pub fn set_fault_percent(&self, percent: u64) {
        self.inner
            .fault_percent
            .store(percent.min(100), Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.inner
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Calls answered (with the right key).
    pub fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// The email of every answered call, in arrival order.
    pub fn log(&self) -> Vec<String> {
        self.inner.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Calls refused with 401 for a missing or wrong key.
    pub fn unauthorized(&self) -> u64 {
        self.inner.unauthorized.load(Ordering::SeqCst)
    }

    /// Most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// 200-with-data answers per email.
    pub fn served(&self) -> HashMap<String, u64> {
        self.inner
            .served
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: String) -> Response {
    let expected = format!("Bearer {API_KEY}");
    if headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()) != Some(expected.as_bytes()) {
        inner.unauthorized.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    let now = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&inner);
    let call = inner.calls.fetch_add(1, Ordering::SeqCst);
    let email = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["email"].as_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    if let Ok(mut log) = inner.log.lock() {
        log.push(email.clone());
    }
    let delay = inner.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = inner
        .scripts
        .lock()
        .ok()
        .and_then(|mut s| s.get_mut(&email).and_then(VecDeque::pop_front));
    let reply = scripted.unwrap_or_else(|| {
        // Deterministic faults: `fault_percent` of every 100 calls, spread out.
        let percent = inner.fault_percent.load(Ordering::SeqCst);
        if (call * 37) % 100 < percent {
            if call % 2 == 0 {
                Reply::Throttle(0)
            } else {
                Reply::ServerError
            }
        } else {
            person_for(&email).map_or(Reply::NotFound, Reply::Data)
        }
    });
    match reply {
        Reply::Data(v) => {
            if let Ok(mut s) = inner.served.lock() {
                *s.entry(email).or_default() += 1;
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response()
        }
        Reply::NotFound => (StatusCode::NOT_FOUND, "{}").into_response(),
        Reply::Throttle(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            "{}",
        )
            .into_response(),
        Reply::ThrottleUntil(at) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(
                header::RETRY_AFTER,
                DateTime::from(at)
                    .fmt(DateTimeFormat::HttpDate)
                    .unwrap_or_default(),
            )],
            "{}",
        )
            .into_response(),
        Reply::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        Reply::Garbage => (StatusCode::OK, "<html>not json</html>").into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "{}").into_response()
        }
    }
}
