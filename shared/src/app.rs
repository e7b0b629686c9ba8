//! What lives for the whole container: configuration and the store.

use std::time::Duration;

use crate::config::Config;
use crate::dynamodb_http::{DynamoHttp, Roots};
use crate::store::Store;

/// How long init may spend opening the connection to DynamoDB before it
/// gives up and leaves it to the first request.
const OPEN_CONNECTION_BUDGET: Duration = Duration::from_secs(2);

/// Built once per Lambda container (or dev server) and shared by requests.
#[derive(Clone, Debug)]
pub struct App {
    pub config: Config,
    pub store: Store,
    /// The client's connection pool, when the app built it (not for the
    /// admin tools' `aws-config` client).
    http: Option<DynamoHttp>,
}

impl App {
    /// The app as the API runs it: see [`Config::dynamodb_client`].
    pub fn new(config: Config) -> Self {
        let roots = Roots::from_setting(std::env::var("DYNAMODB_TLS_ROOTS").ok().as_deref());
        let http = DynamoHttp::new(roots)
            .unwrap_or_else(|e| panic!("building the DynamoDB HTTP client ({roots:?} roots): {e}"));
        let store = Store::new(config.dynamodb_client(&http), &config);
        App {
            config,
            store,
            http: Some(http),
        }
    }

    /// The app configured by the process environment.
    pub fn from_env() -> Self {
        Self::new(Config::from_env())
    }

    /// The app for an admin tool run against a deployed stack: see
    /// [`Config::dynamodb_client_from_aws_config`].
    #[cfg(feature = "aws-config")]
    pub async fn from_aws_config(config: Config) -> Self {
        let store = Store::new(config.dynamodb_client_from_aws_config().await, &config);
        App {
            config,
            store,
            http: None,
        }
    }

    /// The same app over another client built from this one's (the bench
    /// adds a metering interceptor).
    pub fn with_client(&self, client: aws_sdk_dynamodb::Client) -> Self {
        App {
            config: self.config.clone(),
            store: Store::new(client, &self.config),
            http: self.http.clone(),
        }
    }

    /// Opens the connection to DynamoDB (TCP, and TLS on AWS) for the first
    /// request to use, without sending a request. Best effort and bounded:
    /// if it fails, the first request connects as it would have anyway.
    pub async fn open_connection(&self) {
        let Some(http) = &self.http else { return };
        let Some(region) = self.store.client.config().region() else {
            return;
        };
        let Some(endpoint) = self.config.dynamodb_endpoint_uri(region.as_ref()).await else {
            return;
        };
        match tokio::time::timeout(OPEN_CONNECTION_BUDGET, http.open(&endpoint)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %endpoint, "opening the DynamoDB connection failed")
            }
            Err(_) => tracing::debug!(%endpoint, "opening the DynamoDB connection timed out"),
        }
    }
}
