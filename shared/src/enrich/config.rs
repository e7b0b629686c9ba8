//! Settings of the enrichment job, read once from the environment.

use std::sync::Arc;
use std::time::Duration;

use super::builtin::Builtin;
use super::http::{HttpProvider, HttpSettings};
use super::job::Job;
use super::plan::RetryPolicy;
use super::provider::Provider;
use super::queue::{Meter, Queue};
use crate::error::ApiError;
use crate::store::Store;

/// Everything the job can be told; see `docs/enrichment.md` for the variables.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichConfig {
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub page_size: i32,
    /// Region assumed for phone numbers written without `+country`.
    pub phone_region: String,
    /// Stop this long before the Lambda deadline.
    pub deadline_reserve: Duration,
    /// The HTTP provider, when `ENRICH_HTTP_URL` is set.
    pub http: Option<HttpSettings>,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl EnrichConfig {
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `lookup`; unset or unreadable values take defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let num = |k: &str, default: u64| -> u64 {
            get(k)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let flag = |k: &str| get(k).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let http = get("ENRICH_HTTP_URL").map(|url| HttpSettings {
            url,
            api_key: get("ENRICH_HTTP_KEY"),
            timeout: Duration::from_millis(num("ENRICH_HTTP_TIMEOUT_MS", 5_000)),
            concurrency: num("ENRICH_HTTP_CONCURRENCY", 8).max(1) as usize,
            retries: num("ENRICH_HTTP_RETRIES", 2) as u32,
            retry_base: Duration::from_millis(num("ENRICH_HTTP_RETRY_BASE_MS", 200)),
            max_inline_wait: Duration::from_millis(num("ENRICH_HTTP_MAX_WAIT_MS", 2_000)),
            allow_private: flag("ENRICH_ALLOW_PRIVATE_URLS"),
        });
        EnrichConfig {
            retry: RetryPolicy {
                max_attempts: num("ENRICH_MAX_ATTEMPTS", 5).max(1) as u32,
                base: Duration::from_secs(num("ENRICH_RETRY_BASE_SECONDS", 60)),
                cap: Duration::from_secs(num("ENRICH_RETRY_MAX_SECONDS", 6 * 3600)),
            },
            concurrency: num("ENRICH_CONCURRENCY", 16).max(1) as usize,
            page_size: num("ENRICH_PAGE_SIZE", 100).clamp(1, 1000) as i32,
            phone_region: get("ENRICH_PHONE_REGION").unwrap_or_else(|| "US".into()),
            deadline_reserve: Duration::from_millis(num("ENRICH_DEADLINE_RESERVE_MS", 3_000)),
            http,
        }
    }

    /// A job with the given providers (tests plug in their own).
    pub fn job_with(
        &self,
        queue: Queue,
        providers: Vec<Box<dyn Provider>>,
        meter: Arc<Meter>,
    ) -> Job {
        Job {
            queue,
            providers,
            retry: self.retry,
            concurrency: self.concurrency,
            page_size: self.page_size,
            meter,
        }
    }
}

/// What the job keeps for the whole container: its settings and the HTTP
/// provider (client, connection pool, TLS roots), built once, like the
/// DynamoDB client. Each run gets a fresh [`Job`] from it.
pub struct Enricher {
    pub config: EnrichConfig,
    http: Option<Arc<HttpProvider>>,
}

impl Enricher {
    /// Builds the configured providers; fails on a refused `ENRICH_HTTP_URL`.
    pub fn new(config: EnrichConfig) -> Result<Self, ApiError> {
        let http = match &config.http {
            Some(settings) => Some(Arc::new(HttpProvider::new(
                settings.clone(),
                &config.phone_region,
            )?)),
            None => None,
        };
        Ok(Enricher { config, http })
    }

    /// One run's job over `store`: the HTTP provider first (when
    /// configured), then the built-in one, which fills what is left. The
    /// meter and the built-in provider's company cache are the run's own.
    pub fn job(&self, store: &Store) -> Job {
        let meter = Arc::new(Meter::default());
        let queue = Queue::new(store.clone());
        let mut providers: Vec<Box<dyn Provider>> = Vec::new();
        if let Some(http) = &self.http {
            providers.push(Box::new(http.clone()));
        }
        providers.push(Box::new(Builtin::new(
            queue.clone(),
            meter.clone(),
            &self.config.phone_region,
        )));
        self.config.job_with(queue, providers, meter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_have_no_http_provider() {
        let c = EnrichConfig::default();
        assert!(c.http.is_none());
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!(c.phone_region, "US");
    }

    #[test]
    fn http_settings_come_from_env() {
        let c = EnrichConfig::from_lookup(|k| match k {
            "ENRICH_HTTP_URL" => Some("https://enrich.example.com/v1/person".into()),
            "ENRICH_HTTP_TIMEOUT_MS" => Some("750".into()),
            "ENRICH_ALLOW_PRIVATE_URLS" => Some("1".into()),
            _ => None,
        });
        let http = c.http.unwrap();
        assert_eq!(http.timeout, Duration::from_millis(750));
        assert!(http.allow_private);
        assert_eq!(http.api_key, None);
    }
}
