//! The DynamoDB client's HTTP connections: hyper with rustls on aws-lc (the
//! stack the SDK's own default client uses), trusting only AWS's roots, and
//! able to open a connection before the first request needs it.
//!
//! A Lambda function wants its TLS handshake with DynamoDB done during init,
//! where it has a whole CPU, rather than in the first request. The SDK's
//! default client can only open a connection by sending a request, which
//! costs a DynamoDB round trip; [`DynamoHttp::open`] opens one and parks it,
//! and the connection pool's first connect takes it.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{
    CaptureConnection, HttpConnector as TcpConnector, HttpInfo, capture_connection,
};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpStream;
// Tokio's clock, so a test can age a parked connection.
use tokio::time::Instant;
use tower_service::Service;

type BoxError = Box<dyn StdError + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// How long a new connection (TCP connect and TLS handshake together) may
/// take: the SDK's own default.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// A parked connection older than this is closed instead of used: DynamoDB
/// may have dropped it, and a dead first connection would cost the first
/// request a retry.
const PARKED_FOR_AT_MOST: Duration = Duration::from_secs(20);

/// The root CAs of Amazon Trust Services, which sign the certificates of the
/// AWS service endpoints in the commercial and GovCloud partitions
/// (Starfield Services G2 cross-signs them). Other partitions may need
/// `DYNAMODB_TLS_ROOTS=native`.
const AWS_ROOT_CAS: [&str; 5] = [
    include_str!("../certs/AmazonRootCA1.pem"),
    include_str!("../certs/AmazonRootCA2.pem"),
    include_str!("../certs/AmazonRootCA3.pem"),
    include_str!("../certs/AmazonRootCA4.pem"),
    include_str!("../certs/SFSRootCAG2.pem"),
];

/// Which certificate authorities connections to DynamoDB trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// Amazon Trust Services only (the default): parsing five embedded
    /// certificates instead of the platform's whole CA bundle at start-up.
    Aws,
    /// The platform's CA bundle (`DYNAMODB_TLS_ROOTS=native`), for an
    /// endpoint behind another CA such as a TLS-inspecting firewall. (There
    /// is no HTTP proxy support: Lambda reaches DynamoDB directly.)
    Native,
}

impl Roots {
    /// `DYNAMODB_TLS_ROOTS`: `native`, or anything else for AWS's roots.
    pub fn from_setting(setting: Option<&str>) -> Self {
        if setting.is_some_and(|v| v.eq_ignore_ascii_case("native")) {
            Roots::Native
        } else {
            Roots::Aws
        }
    }
}

/// The SDK's HTTP client: one hyper connection pool shared by every clone.
#[derive(Clone)]
pub struct DynamoHttp {
    client: Client<Preopened, SdkBody>,
    connector: Preopened,
}

impl fmt::Debug for DynamoHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoHttp").finish_non_exhaustive()
    }
}

impl DynamoHttp {
    pub fn new(roots: Roots) -> Result<Self, BoxError> {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let tls = hyper_rustls::HttpsConnectorBuilder::new();
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let tls = match roots {
            Roots::Aws => {
                let mut store = rustls::RootCertStore::empty();
                for pem in AWS_ROOT_CAS {
                    store.add(CertificateDer::from_pem_slice(pem.as_bytes())?)?;
                }
                tls.with_tls_config(
                    rustls::ClientConfig::builder_with_provider(Arc::new(provider))
                        .with_safe_default_protocol_versions()?
                        .with_root_certificates(store)
                        .with_no_client_auth(),
                )
            }
            Roots::Native => tls.with_provider_and_native_roots(provider)?,
        };
        let connector = Preopened {
            inner: tls.https_or_http().enable_http1().wrap_connector(tcp),
            parked: Arc::default(),
        };
        let client = Client::builder(TokioExecutor::new())
            // Without a timer the pool never expires idle connections.
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector.clone());
        Ok(DynamoHttp { client, connector })
    }

    /// Opens a connection (TCP, and TLS for `https`) to `endpoint` and parks
    /// it for the first request to that host. Best effort: on failure the
    /// first request connects as it would have anyway.
    pub async fn open(&self, endpoint: &Uri) -> Result<(), BoxError> {
        let stream = connect(self.connector.inner.clone(), endpoint.clone()).await?;
        *self.connector.parked.lock().expect("parked lock") = Some(Parked {
            key: PoolKey::of(endpoint),
            at: Instant::now(),
            stream,
        });
        Ok(())
    }
}

impl HttpClient for DynamoHttp {
    // The connect timeout is fixed when the client is built (`CONNECT_TIMEOUT`,
    // which `Config` also gives the SDK); there is no read timeout here, as
    // the SDK's attempt and operation timeouts bound every call.
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

impl HttpConnector for DynamoHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        // Lets the SDK close the connection after a transient error, so its
        // retry goes out on a fresh one (its connection-poisoning interceptor).
        let capture = capture_connection(&mut request);
        if let Some(smithy) = request.extensions().get::<CaptureSmithyConnection>() {
            smithy.set_connection_retriever(move || connection_metadata(&capture));
        }
        let response = self.client.request(request);
        HttpConnectorFuture::new(async move {
            let response = response.await.map_err(classify)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// What the SDK learns of the connection a request used, and how it closes
/// that connection.
fn connection_metadata(capture: &CaptureConnection) -> Option<ConnectionMetadata> {
    let connected = capture.connection_metadata();
    let connected = connected.as_ref()?;
    let mut extras = hyper::http::Extensions::new();
    connected.get_extras(&mut extras);
    let info = extras.get::<HttpInfo>();
    let capture = capture.clone();
    let mut builder = ConnectionMetadata::builder()
        .proxied(connected.is_proxied())
        .poison_fn(move || {
            if let Some(connected) = capture.connection_metadata().as_ref() {
                connected.poison();
            }
        });
    builder
        .set_remote_addr(info.map(HttpInfo::remote_addr))
        .set_local_addr(info.map(HttpInfo::local_addr));
    Some(builder.build())
}

/// A new connection within `CONNECT_TIMEOUT`; a timeout is an I/O error to
/// hyper, so the SDK retries it like a refused connection.
async fn connect(mut inner: HttpsConnector<TcpConnector>, uri: Uri) -> Result<Stream, BoxError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, inner.call(uri)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {CONNECT_TIMEOUT:?}"),
        )
        .into()),
    }
}

/// Sorts a failed exchange the way the SDK's own client does, so that its
/// retry strategy retries what is safe to retry: connection failures, resets
/// and timeouts are transient; a request the client could not form is not.
fn classify(err: hyper_util::client::legacy::Error) -> ConnectorError {
    if err.is_connect() {
        return ConnectorError::io(err.into());
    }
    let hyper_err = chain(&err).find_map(|e| e.downcast_ref::<hyper::Error>());
    let io_err = chain(&err).any(|e| e.is::<std::io::Error>());
    match hyper_err {
        Some(h) if h.is_timeout() => ConnectorError::timeout(err.into()),
        Some(h) if h.is_user() => ConnectorError::user(err.into()),
        Some(h) if h.is_closed() || h.is_canceled() || io_err => ConnectorError::io(err.into()),
        Some(h) if h.is_incomplete_message() => {
            ConnectorError::other(err.into(), Some(ErrorKind::TransientError))
        }
        _ if io_err => ConnectorError::io(err.into()),
        _ => ConnectorError::other(err.into(), None),
    }
}

fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
}

/// What hyper's pool keys connections by: scheme and authority.
#[derive(Debug, PartialEq, Eq)]
struct PoolKey(Option<String>, Option<String>);

impl PoolKey {
    fn of(uri: &Uri) -> Self {
        PoolKey(
            uri.scheme_str().map(str::to_ascii_lowercase),
            uri.authority().map(|a| a.as_str().to_ascii_lowercase()),
        )
    }
}

struct Parked {
    key: PoolKey,
    at: Instant,
    stream: Stream,
}

/// The TLS connector, handing out the parked connection to the first connect
/// for its host.
#[derive(Clone)]
struct Preopened {
    inner: HttpsConnector<TcpConnector>,
    parked: Arc<Mutex<Option<Parked>>>,
}

impl Preopened {
    fn take_parked(&self, uri: &Uri) -> Option<Stream> {
        let mut slot = self.parked.lock().expect("parked lock");
        if slot.as_ref().is_some_and(|p| p.key != PoolKey::of(uri)) {
            return None;
        }
        slot.take()
            .filter(|p| p.at.elapsed() <= PARKED_FOR_AT_MOST)
            .map(|p| p.stream)
    }
}

impl Service<Uri> for Preopened {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self.take_parked(&uri) {
            Some(stream) => Box::pin(std::future::ready(Ok(stream))),
            None => Box::pin(connect(self.inner.clone(), uri)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_roots_unless_native_is_asked_for() {
        assert_eq!(Roots::from_setting(None), Roots::Aws);
        assert_eq!(Roots::from_setting(Some("aws")), Roots::Aws);
        assert_eq!(Roots::from_setting(Some("native")), Roots::Native);
        assert_eq!(Roots::from_setting(Some("NATIVE")), Roots::Native);
    }

    #[test]
    fn the_embedded_roots_parse() {
        // A bad certificate would make every cold start fail to build its
        // client; building it here parses all five.
        DynamoHttp::new(Roots::Aws).unwrap();
    }

    #[test]
    fn pool_keys_ignore_case_but_not_port_or_scheme() {
        let key = |s: &str| PoolKey::of(&s.parse().unwrap());
        assert_eq!(key("http://LocalHost:8000/"), key("http://localhost:8000"));
        assert_ne!(key("http://localhost:8000"), key("http://localhost:8001"));
        assert_ne!(key("http://localhost:8000"), key("https://localhost:8000"));
    }

    /// A one-route HTTP server answering `{}` to every request, counting
    /// the connections it accepts.
    async fn counting_server() -> (Uri, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    // Requests here have no body: one read per request head.
                    while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {
                        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (uri, accepted)
    }

    fn get(uri: &Uri) -> HttpRequest {
        HttpRequest::get(uri.to_string()).unwrap()
    }

    #[tokio::test]
    async fn an_opened_connection_carries_the_first_requests() {
        use std::sync::atomic::Ordering;
        let (uri, accepted) = counting_server().await;
        let http = DynamoHttp::new(Roots::Aws).unwrap();
        http.open(&uri).await.unwrap();
        // The server's accept loop may lag the client's connect.
        for _ in 0..100 {
            if accepted.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "open() connected");
        for _ in 0..3 {
            let response = HttpConnector::call(&http, get(&uri)).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "requests reused the opened connection"
        );
    }

    #[tokio::test]
    async fn a_connection_opened_elsewhere_is_not_handed_out() {
        use std::sync::atomic::Ordering;
        let (a, accepted_a) = counting_server().await;
        let (b, accepted_b) = counting_server().await;
        let http = DynamoHttp::new(Roots::Aws).unwrap();
        http.open(&a).await.unwrap();
        let response = HttpConnector::call(&http, get(&b)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(accepted_b.load(Ordering::SeqCst), 1);
        // The parked connection still waits for its own host.
        HttpConnector::call(&http, get(&a)).await.unwrap();
        assert_eq!(accepted_a.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri: Uri = format!("http://127.0.0.1:{port}").parse().unwrap();
        let http = DynamoHttp::new(Roots::Aws).unwrap();
        assert!(http.open(&uri).await.is_err());
        let err = HttpConnector::call(&http, get(&uri)).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
    }

    #[tokio::test]
    async fn a_poisoned_connection_is_not_reused() {
        use std::sync::atomic::Ordering;
        let (uri, accepted) = counting_server().await;
        let http = DynamoHttp::new(Roots::Aws).unwrap();
        let capture = CaptureSmithyConnection::new();
        let mut request = get(&uri);
        request.add_extension(capture.clone());
        HttpConnector::call(&http, request).await.unwrap();
        HttpConnector::call(&http, get(&uri)).await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the pool reuses a healthy connection"
        );
        // What the SDK does after a transient error.
        capture
            .get()
            .expect("the connector told the SDK its connection")
            .poison();
        HttpConnector::call(&http, get(&uri)).await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a poisoned connection is closed"
        );
    }

    #[tokio::test]
    async fn a_stale_parked_connection_is_closed_not_used() {
        use std::sync::atomic::Ordering;
        let (uri, accepted) = counting_server().await;
        let http = DynamoHttp::new(Roots::Aws).unwrap();
        http.open(&uri).await.unwrap();
        tokio::time::pause();
        tokio::time::advance(PARKED_FOR_AT_MOST + Duration::from_secs(1)).await;
        tokio::time::resume();
        HttpConnector::call(&http, get(&uri)).await.unwrap();
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "a fresh connection, not the parked one"
        );
    }
}
