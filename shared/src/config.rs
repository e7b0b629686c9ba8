//! Configuration read once from the environment at start-up.

use std::env;

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

    /// Builds the DynamoDB client. With a local endpoint and no credentials in
    /// the environment it uses fixed dummy credentials and `us-east-1`, so a
    /// laptop never waits on the instance-metadata lookup.
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        // Give up before the functions' 10 s timeout, so a client gets our
        // 503 with Retry-After rather than API Gateway's bare 5xx; keep the
        // SDK's backoff short for the same reason.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(std::time::Duration::from_secs(5))
            .operation_timeout(std::time::Duration::from_secs(9))
            .build();
        let retries = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_max_backoff(std::time::Duration::from_secs(1));
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(retries);
        if let Some(endpoint) = &self.dynamodb_endpoint {
            loader = loader.endpoint_url(endpoint);
            if env::var_os("AWS_REGION").is_none() && env::var_os("AWS_DEFAULT_REGION").is_none() {
                loader = loader.region(aws_config::Region::new("us-east-1"));
            }
            if env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local", "local", None, None, "local",
                ));
            }
        }
        if trust_aws_roots_only(env::var("DYNAMODB_TLS_ROOTS").ok().as_deref()) {
            loader = loader.http_client(aws_roots_https_client());
        }
        aws_sdk_dynamodb::Client::new(&loader.load().await)
    }
}

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

/// `DYNAMODB_TLS_ROOTS=native` trusts the platform's CA bundle instead (for
/// an endpoint behind another CA, such as a TLS-inspecting proxy).
fn trust_aws_roots_only(setting: Option<&str>) -> bool {
    !setting.is_some_and(|v| v.eq_ignore_ascii_case("native"))
}

/// The SDK's default HTTPS client (rustls on aws-lc, proxy settings from
/// the environment), built the way `aws-smithy-runtime` builds it, but
/// trusting only AWS's roots. The default client reads and parses the
/// platform's whole CA bundle, and on Debian every file in /etc/ssl/certs as
/// well, during start-up: a cold-start cost that buys nothing when the only
/// peer is DynamoDB.
fn aws_roots_https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    let trust = AWS_ROOT_CAS
        .iter()
        .fold(tls::TrustStore::empty(), |t, pem| {
            t.with_pem_certificate(pem.as_bytes())
        });
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context from a trust store always builds");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_roots_unless_native_is_asked_for() {
        assert!(trust_aws_roots_only(None));
        assert!(trust_aws_roots_only(Some("aws")));
        assert!(!trust_aws_roots_only(Some("native")));
        assert!(!trust_aws_roots_only(Some("NATIVE")));
        // Every embedded root is a PEM certificate.
        for pem in AWS_ROOT_CAS {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
    }

    #[tokio::test]
    async fn the_aws_roots_client_parses_its_roots_when_it_connects() {
        // Building the client builds its TLS configuration, and with it
        // parses the embedded roots (a bad one panics); a refused
        // connection after that is all this needs.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = Config {
            dynamodb_endpoint: Some(format!("https://127.0.0.1:{port}")),
            ..Config::from_lookup(|_| None)
        };
        let err = cfg
            .dynamodb_client()
            .await
            .list_tables()
            .send()
            .await
            .unwrap_err();
        assert!(
            matches!(err, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)),
            "{err:?}"
        );
    }

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
