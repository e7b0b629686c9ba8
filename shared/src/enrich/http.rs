//! A provider backed by a person-enrichment HTTP service of the usual shape:
//! `POST {url}` with `{"email": …}` answers 200 with data, 404 when it knows
//! nobody by that address, 429 with `Retry-After` when throttling.
//!
//! Built on the hyper/rustls stack the AWS SDK already compiles. It refuses
//! plain http and private, loopback and link-local addresses (checked on the
//! URL and again on every DNS answer, so a name cannot be re-pointed at an
//! internal address) unless `allow_private` is set for local development.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use super::builtin::{self, PhoneRegion};
use super::provider::{Change, Lookup, Provider};
use crate::contact::{Item, text_attr};
use crate::error::ApiError;
use crate::fields::contact_field;
use crate::validate;

pub const NAME: &str = "http";

/// Largest response body read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Contact fields the service may fill (only where the contact has none).
pub const OFFERED_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "title",
    "department",
    "phone",
    "linkedin_url",
    "photo_url",
];

/// How to reach the service, and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    pub url: String,
    /// Sent as `Authorization: Bearer …`; never logged.
    pub api_key: Option<String>,
    /// Whole-request timeout (connect, send, read).
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Retries within one lookup on 429, 5xx, timeouts and unreadable answers.
    pub retries: u32,
    /// First retry delay; doubles on each retry (a `Retry-After` overrides it).
    pub retry_base: Duration,
    /// A wait longer than this ends the lookup; the job reschedules the contact.
    pub max_inline_wait: Duration,
    /// Local development only: allow http and private/loopback addresses.
    pub allow_private: bool,
}

/// Whether an address is on the public internet (not private, loopback,
/// link-local, shared, reserved, benchmarking, multicast, unspecified or
/// documentation space). IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by the IPv4 address they reach.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // 0.0.0.0/8, "this network"
        || (a == 100 && (64..128).contains(&b)) // 100.64.0.0/10, carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24, IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24, 6to4 relays
        || (a == 198 && (b == 18 || b == 19)) // 198.18.0.0/15, benchmarking
        || a >= 240) // 240.0.0.0/4, reserved
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    !(v6.is_loopback()
        || v6.is_unspecified()
        || v6.is_multicast()
        || v6.is_unique_local()
        || v6.is_unicast_link_local()
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10, site-local
        || (s[0] == 0x64 && s[1] == 0xff9b) // 64:ff9b::/32, NAT64 (local-use 64:ff9b:1::/48 included)
        || (s[0] == 0x2001 && s[1] == 0) // 2001::/32, Teredo (hides an IPv4 address)
        || (s[0] == 0x2001 && s[1] == 0x2 && s[2] == 0) // 2001:2::/48, benchmarking
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32, documentation
        || (s[0] == 0x100 && s[1] == 0 && s[2] == 0 && s[3] == 0)) // 100::/64, discard
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d` (which
/// also covers `::` and `::1`, as 0.0.0.0 and 0.0.0.1), NAT64
/// `64:ff9b::a.b.c.d`, and 6to4 `2002:aabb:ccdd::/48`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        _ => None,
    }
}

/// The URL's own check: https only, and no literal internal address or
/// `localhost`, unless `allow_private`.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Uri, ApiError> {
    let bad = |why: &str| ApiError::Internal(format!("ENRICH_HTTP_URL refused: {why}"));
    let url = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(bad("only https URLs are allowed")),
    }
    if !allow_private {
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
                return Err(bad("private, loopback or link-local address"));
            }
            Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
                return Err(bad("private, loopback or link-local address"));
            }
            Some(url::Host::Domain(d))
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                return Err(bad("localhost"));
            }
            None => return Err(bad("no host")),
            _ => {}
        }
    }
    url.as_str().parse().map_err(|_| bad("not a URL"))
}

/// DNS that drops internal addresses from every answer (the SSRF guard at
/// connect time), unless `allow_private`.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "refused: the host resolves only to private, loopback or link-local addresses",
                ));
            }
            Ok(addrs.into_iter())
        })
    }
}

/// What one request came to.
enum Answer {
    Final(Lookup),
    /// Worth asking again: after `after` if the service said so.
    Transient {
        reason: String,
        after: Option<Duration>,
    },
}

fn transient(reason: impl Into<String>) -> Answer {
    Answer::Transient {
        reason: reason.into(),
        after: None,
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(v: Option<&HeaderValue>) -> Option<Duration> {
    use aws_smithy_types::date_time::{DateTime, Format};
    let v = v?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::from_str(v, Format::HttpDate).ok()?;
    let now = DateTime::from(std::time::SystemTime::now());
    Some(Duration::from_secs((at.secs() - now.secs()).max(0) as u64))
}

/// Changes proposed by a 200 answer: each offered field that passes the
/// field table's own validation, filling only what the contact lacks. A
/// phone is stored in E.164 and a LinkedIn URL in its canonical form, by the
/// built-in provider's own rules; one that does not parse as such is not
/// filled (the built-in provider leaves a user's unparsable value alone, but
/// a provider's is not worth storing).
fn changes_from(body: &[u8], phone_region: Option<PhoneRegion>) -> Result<Vec<Change>, String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err("the provider's answer is not a JSON object".into());
    };
    let mut changes = Vec::new();
    for name in OFFERED_FIELDS {
        let (Some(field), Some(Value::String(raw))) = (contact_field(name), map.get(*name)) else {
            continue;
        };
        // Outside data arrives padded more often than not; the API's own
        // rules take values as sent, so tidy them first.
        let raw = raw.trim();
        let tidy = match *name {
            "phone" => builtin::e164(raw, phone_region),
            "linkedin_url" => builtin::canonical_linkedin(raw),
            _ => Some(raw.to_string()),
        };
        if let Some(tidy) = tidy
            && let Ok(Some(checked)) = validate::check(field, Value::String(tidy))
            && let Some(text) = checked.as_text()
        {
            changes.push(Change::fill(field.name, text));
        }
    }
    Ok(changes)
}

type Https = HttpsConnector<HttpConnector<GuardedResolver>>;

/// The HTTP provider. Built once per container: its client keeps the
/// connection pool and TLS roots across runs.
pub struct HttpProvider {
    client: Client<Https, Full<Bytes>>,
    uri: Uri,
    auth: Option<HeaderValue>,
    settings: HttpSettings,
    permits: Semaphore,
    phone_region: Option<PhoneRegion>,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl HttpProvider {
    /// `phone_region` (e.g. `US`) is assumed for phone numbers the service
    /// gives without a `+country` prefix.
    pub fn new(settings: HttpSettings, phone_region: &str) -> Result<Self, ApiError> {
        let uri = check_url(&settings.url, settings.allow_private)?;
        let mut http = HttpConnector::new_with_resolver(GuardedResolver {
            allow_private: settings.allow_private,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| ApiError::Internal(format!("loading TLS roots: {e}")))?;
        let builder = if settings.allow_private {
            builder.https_or_http()
        } else {
            builder.https_only()
        };
        let https = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        let auth =
            match &settings.api_key {
                Some(key) => Some(HeaderValue::from_str(&format!("Bearer {key}")).map_err(
                    |_| ApiError::Internal("ENRICH_HTTP_KEY is not a valid header".into()),
                )?),
                None => None,
            };
        Ok(HttpProvider {
            client,
            uri,
            auth,
            permits: Semaphore::new(settings.concurrency.max(1)),
            settings,
            phone_region: builtin::phone_region(phone_region),
        })
    }

    async fn request(&self, email: &str) -> Answer {
        let mut req = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        if let Some(auth) = &self.auth {
            let mut auth = auth.clone();
            auth.set_sensitive(true);
            req = req.header(AUTHORIZATION, auth);
        }
        let Ok(req) = req.body(Full::new(Bytes::from(
            json!({ "email": email }).to_string(),
        ))) else {
            return Answer::Final(Lookup::NotFound);
        };
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                // The connect error's source says whether the guard refused it.
                let mut why = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    why = format!("{why}: {s}");
                    src = s.source();
                }
                why
            })?;
            let status = resp.status();
            let after = retry_after(resp.headers().get(RETRY_AFTER));
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(|b| b.to_bytes());
            Ok::<_, String>((status, after, body))
        };
        let (status, after, body) =
            match tokio::time::timeout(self.settings.timeout, exchange).await {
                Err(_) => return transient("the provider timed out"),
                Ok(Err(why)) => return transient(format!("request failed: {why}")),
                Ok(Ok(parts)) => parts,
            };
        match status {
            StatusCode::OK => match body
                .map_err(|_| "unreadable body".to_string())
                .and_then(|b| changes_from(&b, self.phone_region))
            {
                Ok(changes) => Answer::Final(Lookup::Found {
                    changes,
                    facts: Map::new(),
                }),
                Err(why) => transient(why),
            },
            StatusCode::NOT_FOUND => Answer::Final(Lookup::NotFound),
            StatusCode::TOO_MANY_REQUESTS => Answer::Transient {
                reason: "throttled (429)".into(),
                after,
            },
            s if s.is_server_error() => Answer::Transient {
                reason: format!("provider error ({})", s.as_u16()),
                after,
            },
            // 401, 403, 400…: asking again at once would get the same answer,
            // so the contact is rescheduled without retries in the lookup.
            s if s.is_client_error() => Answer::Final(Lookup::Retry {
                reason: format!("refused ({})", s.as_u16()),
                after: None,
            }),
            s => transient(format!("unexpected status {}", s.as_u16())),
        }
    }

    /// Asks about `email`, retrying transient failures with exponential
    /// backoff (or the service's `Retry-After`) while the wait stays short.
    /// A request holds one of the `concurrency` slots only while it is in
    /// flight, never while it waits to be retried.
    pub async fn ask(&self, email: &str) -> Lookup {
        let mut attempt = 0;
        loop {
            let answer = {
                let Ok(_slot) = self.permits.acquire().await else {
                    return Lookup::NotFound;
                };
                self.request(email).await
            };
            let (reason, after) = match answer {
                Answer::Final(lookup) => return lookup,
                Answer::Transient { reason, after } => (reason, after),
            };
            let wait = after.unwrap_or_else(|| {
                self.settings
                    .retry_base
                    .saturating_mul(1 << attempt.min(16))
            });
            if attempt >= self.settings.retries || wait > self.settings.max_inline_wait {
                return Lookup::Retry { reason, after };
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn lookup<'a>(&'a self, contact: &'a Item) -> BoxFuture<'a, Lookup> {
        async move {
            match text_attr(contact, "email") {
                Some(email) => self.ask(email).await,
                None => Lookup::NotFound,
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) {
        assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
    }

    fn allowed(ip: &str) {
        assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.10",
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
        ] {
            refused(ip);
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            allowed(ip);
        }
    }

    #[test]
    fn shared_address_space_100_64_slash_10_is_refused() {
        refused("100.64.0.1");
        refused("100.127.255.254");
        allowed("100.63.255.255");
        allowed("100.128.0.1");
    }

    #[test]
    fn benchmarking_198_18_slash_15_is_refused() {
        refused("198.18.0.1");
        refused("198.19.255.254");
        allowed("198.17.255.255");
        allowed("198.20.0.1");
    }

    #[test]
    fn reserved_240_slash_4_is_refused() {
        refused("240.0.0.1");
        refused("250.1.2.3");
        allowed("223.255.255.1");
    }

    #[test]
    fn ietf_and_6to4_relay_blocks_are_refused() {
        refused("192.0.0.8");
        refused("192.88.99.1");
    }

    #[test]
    fn ipv4_mapped_and_translated_addresses_are_judged_by_their_ipv4() {
        refused("::ffff:127.0.0.1");
        refused("::ffff:169.254.169.254");
        refused("::ffff:10.0.0.1");
        refused("::ffff:0:127.0.0.1");
        allowed("::ffff:93.184.216.34");
    }

    #[test]
    fn ipv4_compatible_addresses_are_judged_by_their_ipv4() {
        refused("::127.0.0.1");
        refused("::10.0.0.1");
        refused("::169.254.169.254");
        allowed("::93.184.216.34");
    }

    #[test]
    fn nat64_addresses_are_judged_by_their_ipv4() {
        refused("64:ff9b::127.0.0.1");
        refused("64:ff9b::a9fe:a9fe"); // 169.254.169.254
        refused("64:ff9b::10.0.0.1");
        refused("64:ff9b:1::10.0.0.1"); // local-use NAT64
        allowed("64:ff9b::93.184.216.34");
    }

    #[test]
    fn six_to_four_addresses_are_judged_by_their_ipv4() {
        refused("2002:7f00:1::1"); // 127.0.0.1
        refused("2002:a9fe:a9fe::1"); // 169.254.169.254
        refused("2002:c0a8:101::1"); // 192.168.1.1
        allowed("2002:5db8:d822::1"); // 93.184.216.34
    }

    #[test]
    fn other_special_ipv6_blocks_are_refused() {
        refused("2001::1"); // Teredo
        refused("2001:db8::1");
        refused("2001:2::1");
        refused("100::1");
        refused("fec0::1");
    }

    #[test]
    fn literal_urls_in_embedded_ipv4_forms_are_refused() {
        for bad in [
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "https://[2002:a9fe:a9fe::1]/x",
            "https://[::10.0.0.1]/x",
            "https://198.18.0.1/x",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_https_to_public_hosts_is_accepted() {
        assert!(check_url("https://enrich.example.com/v1/person", false).is_ok());
        for bad in [
            "http://enrich.example.com/v1/person",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/x",
            "https://localhost:8443/x",
            "ftp://enrich.example.com/x",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_local_dev_flag_allows_loopback_http() {
        assert!(check_url("http://127.0.0.1:9000/person", true).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_at_connect_time() {
        use std::str::FromStr;
        use tower_service::Service;
        let name = Name::from_str("localhost").unwrap();
        let refused = GuardedResolver {
            allow_private: false,
        }
        .call(name.clone())
        .await;
        assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert!(
            GuardedResolver {
                allow_private: true
            }
            .call(name)
            .await
            .is_ok()
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
    }

    #[test]
    fn retry_after_reads_an_http_date() {
        use aws_smithy_types::date_time::{DateTime, Format};
        let in_an_hour = std::time::SystemTime::now() + Duration::from_secs(3600);
        let date = DateTime::from(in_an_hour).fmt(Format::HttpDate).unwrap();
        let wait = retry_after(Some(&HeaderValue::from_str(&date).unwrap())).unwrap();
        assert!(
            (Duration::from_secs(3590)..=Duration::from_secs(3600)).contains(&wait),
            "{date} -> {wait:?}"
        );
        let past = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&past)), Some(Duration::ZERO));
    }

    fn filled(body: &str) -> Vec<(&'static str, String)> {
        changes_from(body.as_bytes(), builtin::phone_region("US"))
            .unwrap()
            .into_iter()
            .map(|c| (c.field, c.value))
            .collect()
    }

    #[test]
    fn answers_fill_only_valid_offered_fields() {
        assert_eq!(
            filled(r#"{"title":" VP Sales ","photo_url":"not a url","notes":"x"}"#),
            vec![("title", "VP Sales".to_string())]
        );
        assert!(changes_from(b"<html>", None).is_err());
        assert!(changes_from(b"[1,2]", None).is_err());
    }

    #[test]
    fn provider_phones_and_linkedin_urls_are_normalised_like_the_builtin_ones() {
        assert_eq!(
            filled(
                r#"{"phone":"+1 (202) 555-0142","linkedin_url":"http://uk.LinkedIn.com/in/Jane-Smith/?trk=x"}"#
            ),
            vec![
                ("phone", "+12025550142".to_string()),
                (
                    "linkedin_url",
                    "https://www.linkedin.com/in/jane-smith".to_string()
                ),
            ]
        );
        assert_eq!(
            filled(r#"{"phone":"(202) 555-0142"}"#),
            vec![("phone", "+12025550142".to_string())],
            "a number without +country is read in the configured region"
        );
        assert!(
            filled(r#"{"phone":"call me","linkedin_url":"https://example.com/in/jane"}"#)
                .is_empty(),
            "what does not normalise is not filled"
        );
    }
}
