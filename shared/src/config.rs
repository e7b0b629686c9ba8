//! Configuration read once from the environment at start-up.

use std::env;
use std::time::Duration;

use crate::dynamodb_http::{CONNECT_TIMEOUT, DynamoHttp};

/// Table names and the DynamoDB endpoint. On AWS the table names come from
/// `template.yaml`; locally they default to short names and the endpoint
/// points at DynamoDB Local.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub contacts_table: String,
    pub companies_table: String,
    pub api_keys_table: String,
    /// Idempotency records of creates, expired by DynamoDB TTL.
    pub idempotency_table: String,
    /// `DYNAMODB_ENDPOINT`; `None` (unset or empty) means the real AWS endpoint.
    pub dynamodb_endpoint: Option<String>,
}

/// Environment variable and local default for each table, in the order
/// `template.yaml` declares them. The local tooling reads this list too.
pub const TABLE_ENV: [(&str, &str); 4] = [
    ("CONTACTS_TABLE", "contacts"),
    ("COMPANIES_TABLE", "companies"),
    ("API_KEYS_TABLE", "api_keys"),
    ("IDEMPOTENCY_TABLE", "idempotency"),
];

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| env::var(k).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let table = |i: usize| {
            let (var, default) = TABLE_ENV[i];
            lookup(var)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Config {
            contacts_table: table(0),
            companies_table: table(1),
            api_keys_table: table(2),
            idempotency_table: table(3),
            dynamodb_endpoint: lookup("DYNAMODB_ENDPOINT").filter(|v| !v.trim().is_empty()),
        }
    }

    /// The same configuration with every table name suffixed, so that tests
    /// can each own a fresh set of tables in one DynamoDB Local.
    pub fn with_table_suffix(&self, suffix: &str) -> Self {
        Config {
            contacts_table: format!("{}{suffix}", self.contacts_table),
            companies_table: format!("{}{suffix}", self.companies_table),
            api_keys_table: format!("{}{suffix}", self.api_keys_table),
            idempotency_table: format!("{}{suffix}", self.idempotency_table),
            dynamodb_endpoint: self.dynamodb_endpoint.clone(),
        }
    }

    /// The table name configured for a `TABLE_ENV` variable.
    pub fn table_for_env(&self, var: &str) -> Option<&str> {
        match var {
            "CONTACTS_TABLE" => Some(&self.contacts_table),
            "COMPANIES_TABLE" => Some(&self.companies_table),
            "API_KEYS_TABLE" => Some(&self.api_keys_table),
            "IDEMPOTENCY_TABLE" => Some(&self.idempotency_table),
            _ => None,
        }
    }

    /// The DynamoDB client the API runs with: region and credentials from
    /// the environment, where Lambda (and `sam local`) put them, and
    /// [`DynamoHttp`] for connections. Skipping `aws-config`'s provider
    /// chains (profiles, SSO, IMDS, web identity) keeps them out of the
    /// functions' cold start and binaries. With a local endpoint and no
    /// credentials it uses fixed dummy ones, and `us-east-1` if no region is set.
    pub fn dynamodb_client(&self, http: &DynamoHttp) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config::{
            BehaviorVersion, Credentials, Region, SharedCredentialsProvider,
        };
        let var = |k: &str| env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut builder = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http.clone());
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| self.dynamodb_endpoint.as_ref().map(|_| "us-east-1".into()));
        if region.is_none() {
            tracing::warn!("AWS_REGION is not set; DynamoDB calls will fail");
        }
        builder.set_region(region.map(Region::new));
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Some(Credentials::new(
                id,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "Environment",
            )),
            _ if self.dynamodb_endpoint.is_some() => Some(local_credentials()),
            _ => {
                tracing::warn!("no AWS credentials in the environment; DynamoDB calls will fail");
                None
            }
        };
        builder.set_credentials_provider(credentials.map(SharedCredentialsProvider::new));
        self.finish(builder)
    }

    /// The client for admin tools run on a workstation against a deployed
    /// stack (`make api-key`): `aws-config`'s full chain of credential and
    /// region providers (profiles, SSO, …) and the SDK's default HTTP client.
    #[cfg(feature = "aws-config")]
    pub async fn dynamodb_client_from_aws_config(&self) -> aws_sdk_dynamodb::Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if self.dynamodb_endpoint.is_some() {
            if env::var_os("AWS_REGION").is_none() && env::var_os("AWS_DEFAULT_REGION").is_none() {
                loader = loader.region(aws_config::Region::new("us-east-1"));
            }
            if env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(local_credentials());
            }
        }
        self.finish(aws_sdk_dynamodb::config::Builder::from(
            &loader.load().await,
        ))
    }

    /// What every client shares: the endpoint, and timeouts and retries that
    /// give up before the functions' 10 s timeout, so a client gets our 503
    /// with Retry-After rather than API Gateway's bare 5xx.
    fn finish(&self, mut builder: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::Client {
        use aws_sdk_dynamodb::config::{retry::RetryConfig, timeout::TimeoutConfig};
        builder.set_timeout_config(Some(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(9))
                .build(),
        ));
        builder.set_retry_config(Some(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_max_backoff(Duration::from_secs(1)),
        ));
        if let Some(endpoint) = &self.dynamodb_endpoint {
            builder.set_endpoint_url(Some(endpoint.clone()));
        }
        aws_sdk_dynamodb::Client::from_conf(builder.build())
    }

    /// The endpoint the client sends requests to: `DYNAMODB_ENDPOINT`, or
    /// the regional endpoint the SDK resolves for `region`.
    pub async fn dynamodb_endpoint_uri(&self, region: &str) -> Option<hyper::Uri> {
        use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let params = Params::builder()
            .region(region)
            .set_endpoint(self.dynamodb_endpoint.clone())
            .build()
            .ok()?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .ok()?;
        endpoint.url().parse().ok()
    }
}

/// DynamoDB Local accepts any credentials; these keep a laptop from
/// searching for real ones.
fn local_credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_endpoint_means_aws() {
        let cfg = Config::from_lookup(|k| (k == "DYNAMODB_ENDPOINT").then(String::new));
        assert_eq!(cfg.dynamodb_endpoint, None);
        assert_eq!(cfg.contacts_table, "contacts");
    }

    #[test]
    fn table_names_come_from_env() {
        let cfg = Config::from_lookup(|k| (k == "CONTACTS_TABLE").then(|| "prod-contacts".into()));
        assert_eq!(cfg.contacts_table, "prod-contacts");
        assert_eq!(cfg.table_for_env("CONTACTS_TABLE"), Some("prod-contacts"));
        assert_eq!(cfg.companies_table, "companies");
    }
}
