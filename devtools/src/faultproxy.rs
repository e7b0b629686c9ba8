//! A fault-injecting HTTP proxy for DynamoDB Local, for tests: it answers a
//! set share of requests with DynamoDB's throttling or internal-error
//! response instead of forwarding them, or forwards them and then loses
//! DynamoDB's answer (the write applied, the client hears a 500), so the
//! SDK's retries, the API's 503s and clients' retries can be exercised
//! against the real emulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    /// Forwarded, applied by DynamoDB, and answered with a 500 instead.
    pub answers_lost: AtomicU64,
}

/// What share of requests fails, and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Refused before DynamoDB sees them: half throttled
    /// (`ProvisionedThroughputExceededException`, 400), half
    /// `InternalServerError` (500).
    pub refused_percent: u64,
    /// Forwarded and applied, then answered with `InternalServerError`.
    pub lost_answer_percent: u64,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to use as `DYNAMODB_ENDPOINT`.
    pub endpoint: String,
    pub stats: Arc<Stats>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// SplitMix64: a fixed, seedable sequence so a run's faults are reproducible.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn dynamodb_error(status: u16, kind: &str) -> Response {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by the fault proxy"}}"#
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "fault-proxy")
        .body(Body::from(body))
        .expect("static response")
}

impl FaultProxy {
    /// Starts a proxy on loopback in front of `upstream` that refuses
    /// `fault_percent`% of requests: half of them with a throttling error
    /// (`ProvisionedThroughputExceededException`, 400), half with
    /// `InternalServerError` (500). Refused requests never reach DynamoDB.
    pub async fn start(
        upstream: &str,
        fault_percent: u64,
        seed: u64,
    ) -> std::io::Result<FaultProxy> {
        let faults = Faults {
            refused_percent: fault_percent,
            ..Faults::default()
        };
        Self::start_with(upstream, faults, seed).await
    }

    /// Starts a proxy that injects `faults`, drawn from a sequence fixed by `seed`.
    pub async fn start_with(
        upstream: &str,
        faults: Faults,
        seed: u64,
    ) -> std::io::Result<FaultProxy> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let stats = Arc::new(Stats::default());
        let client: Client<HttpConnector, Body> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let st = stats.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let (client, upstream, stats) = (client.clone(), upstream.clone(), st.clone());
            async move {
                let n = stats.requests.fetch_add(1, Ordering::Relaxed);
                let roll = mix(seed ^ n) % 100;
                let refused = faults.refused_percent;
                if roll < refused / 2 {
                    stats.throttled.fetch_add(1, Ordering::Relaxed);
                    return dynamodb_error(400, "ProvisionedThroughputExceededException");
                }
                if roll < refused {
                    stats.server_errors.fetch_add(1, Ordering::Relaxed);
                    return dynamodb_error(500, "InternalServerError");
                }
                let answer = forward(&client, &upstream, req).await;
                if roll < refused + faults.lost_answer_percent {
                    stats.answers_lost.fetch_add(1, Ordering::Relaxed);
                    return dynamodb_error(500, "InternalServerError");
                }
                answer
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FaultProxy {
            endpoint,
            stats,
            _stop: stop,
        })
    }
}

async fn forward(client: &Client<HttpConnector, Body>, upstream: &str, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match format!("{upstream}{path}").parse() {
        Ok(uri) => uri,
        Err(_) => return dynamodb_error(500, "InternalServerError"),
    };
    match client.request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            match body.collect().await {
                Ok(bytes) => Response::from_parts(parts, Body::from(bytes.to_bytes())),
                Err(_) => dynamodb_error(500, "InternalServerError"),
            }
        }
        Err(_) => dynamodb_error(500, "InternalServerError"),
    }
}

#[cfg(test)]
mod tests {
    use super::mix;

    #[test]
    fn fault_share_is_close_to_what_was_asked() {
        let faults = (0..10_000u64).filter(|n| mix(7 ^ n) % 100 < 30).count();
        assert!((2_700..3_300).contains(&faults), "{faults}");
    }
}
