//! The built-in provider: what can be known about a contact without asking
//! anyone outside — the email's domain, free-mail or company, the company
//! with that domain, names split or joined, a canonical LinkedIn URL, the
//! phone in E.164, and a Gravatar photo.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use md5::{Digest, Md5};
use serde_json::{Map, Value};

use super::provider::{Change, Lookup, Provider};
use super::queue::{Meter, Queue};
use crate::contact::{Item, text_attr};

/// Mailbox providers whose domain says nothing about the person's employer.
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "aol.com",
    "fastmail.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.fr",
    "icloud.com",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "tutanota.com",
    "web.de",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "zoho.com",
];

pub const NAME: &str = "builtin";

/// The region assumed for phone numbers written without `+country`.
pub type PhoneRegion = phonenumber::country::Id;

/// The region for a code such as `US`; `None` for an unknown code (then
/// only numbers with `+country` parse).
pub fn phone_region(code: &str) -> Option<PhoneRegion> {
    code.trim().to_ascii_uppercase().parse().ok()
}

/// Company lookups go through the companies table's `by_domain` index,
/// cached for the run (many contacts share a domain), so one is built per
/// run: a company created since the last run is found.
pub struct Builtin {
    queue: Queue,
    meter: Arc<Meter>,
    phone_region: Option<PhoneRegion>,
    companies: Mutex<HashMap<String, Option<String>>>,
}

impl Builtin {
    /// `phone_region` (e.g. `US`) is assumed for numbers without a `+country` prefix.
    pub fn new(queue: Queue, meter: Arc<Meter>, phone_region_code: &str) -> Self {
        Builtin {
            queue,
            meter,
            phone_region: phone_region(phone_region_code),
            companies: Mutex::new(HashMap::new()),
        }
    }

    /// The company whose `domain` is `domain` or, failing that, a parent
    /// domain (`eng.acme.com` → `acme.com`).
    async fn company_for(&self, domain: &str) -> Result<Option<String>, String> {
        let mut candidate = domain;
        loop {
            let cached = self
                .companies
                .lock()
                .ok()
                .and_then(|c| c.get(candidate).cloned());
            let found = match cached {
                Some(found) => found,
                None => {
                    let found = self
                        .queue
                        .company_by_domain(candidate, &self.meter)
                        .await
                        .map_err(|e| format!("company lookup: {e}"))?;
                    if let Ok(mut c) = self.companies.lock() {
                        c.insert(candidate.to_string(), found.clone());
                    }
                    found
                }
            };
            if found.is_some() {
                return Ok(found);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent,
                _ => return Ok(None),
            }
        }
    }

    async fn look(&self, c: &Item) -> Lookup {
        let mut changes = names(c);
        let mut facts = Map::new();
        if let Some(phone) = text_attr(c, "phone")
            && let Some(e164) = e164(phone, self.phone_region)
        {
            changes.push(Change::replace("phone", phone, e164));
        }
        if let Some(url) = text_attr(c, "linkedin_url")
            && let Some(canonical) = canonical_linkedin(url)
        {
            changes.push(Change::replace("linkedin_url", url, canonical));
        }
        if let Some((email, domain)) = text_attr(c, "email").and_then(|e| {
            let (_, d) = e.rsplit_once('@')?;
            Some((e, d.to_ascii_lowercase()))
        }) {
            if text_attr(c, "photo_url").is_none() {
                changes.push(Change::fill("photo_url", gravatar_url(email)));
            }
            let free = is_free_mail(&domain);
            facts.insert("email_domain".into(), Value::String(domain.clone()));
            facts.insert("free_mail".into(), Value::Bool(free));
            if !free && text_attr(c, "company_id").is_none() {
                match self.company_for(&domain).await {
                    Ok(Some(company_id)) => {
                        facts.insert("company_match".into(), Value::String(domain));
                        changes.push(Change::fill("company_id", company_id));
                    }
                    Ok(None) => {}
                    Err(reason) => {
                        return Lookup::Retry {
                            reason,
                            after: None,
                        };
                    }
                }
            }
        }
        if changes.is_empty() && facts.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::Found { changes, facts }
        }
    }
}

impl Provider for Builtin {
    fn name(&self) -> &'static str {
        NAME
    }

    /// What it finds is derived from the contact itself, so it does not
    /// make a person "found" when a person-data service was asked.
    fn is_person_source(&self) -> bool {
        false
    }

    fn lookup<'a>(&'a self, contact: &'a Item) -> BoxFuture<'a, Lookup> {
        self.look(contact).boxed()
    }
}

pub fn is_free_mail(domain: &str) -> bool {
    FREE_MAIL_DOMAINS.contains(&domain)
}

/// First and last name from `full_name` when both are missing, or
/// `full_name` from the parts when it is missing.
fn names(c: &Item) -> Vec<Change> {
    let (first, last, full) = (
        text_attr(c, "first_name"),
        text_attr(c, "last_name"),
        text_attr(c, "full_name"),
    );
    match (first, last, full) {
        (None, None, Some(full)) => match full.trim().rsplit_once(char::is_whitespace) {
            Some((f, l)) if !f.trim().is_empty() => vec![
                Change::fill("first_name", f.trim()).given(c, "full_name"),
                Change::fill("last_name", l).given(c, "full_name"),
            ],
            _ => vec![],
        },
        (Some(_), _, None) | (_, Some(_), None) => {
            let joined = [first, last]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                Change::fill("full_name", joined)
                    .given(c, "first_name")
                    .given(c, "last_name"),
            ]
        }
        _ => vec![],
    }
}

/// The number in E.164 (`+12025550142`) when it parses as a valid number.
pub fn e164(raw: &str, region: Option<PhoneRegion>) -> Option<String> {
    let n = phonenumber::parse(region, raw).ok()?;
    n.is_valid()
        .then(|| n.format().mode(phonenumber::Mode::E164).to_string())
}

/// `https://www.linkedin.com/in/<slug>` for any LinkedIn profile URL
/// (any subdomain, scheme, case, query or trailing path); `None` for others.
pub fn canonical_linkedin(raw: &str) -> Option<String> {
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = url::Url::parse(&with_scheme).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if host != "linkedin.com" && !host.ends_with(".linkedin.com") {
        return None;
    }
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    let kind = segments.next()?.to_ascii_lowercase();
    let slug = segments.next()?;
    if kind != "in" || slug.is_empty() {
        return None;
    }
    Some(format!(
        "https://www.linkedin.com/in/{}",
        slug.to_ascii_lowercase()
    ))
}

/// Gravatar's URL for an address: MD5 of the trimmed, lower-cased email;
/// `d=mp` shows a neutral silhouette when the person has no Gravatar.
pub fn gravatar_url(email: &str) -> String {
    let digest = Md5::digest(email.trim().to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://www.gravatar.com/avatar/{hex}?d=mp&s=200")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn gravatar_hashes_the_trimmed_lowercased_email() {
        // The example address from Gravatar's documentation.
        assert_eq!(
            gravatar_url(" MyEmailAddress@example.com "),
            "https://www.gravatar.com/avatar/0bc83cb571cd1c50ba6f3e8a78ef1346?d=mp&s=200"
        );
    }

    #[test]
    fn linkedin_urls_are_canonicalised() {
        for raw in [
            "http://LinkedIn.com/in/Jane-Smith/",
            "https://uk.linkedin.com/in/jane-smith?trk=abc",
            "www.linkedin.com/in/jane-smith/details/experience",
        ] {
            assert_eq!(
                canonical_linkedin(raw).as_deref(),
                Some("https://www.linkedin.com/in/jane-smith"),
                "{raw}"
            );
        }
        assert_eq!(canonical_linkedin("https://example.com/in/jane"), None);
        assert_eq!(
            canonical_linkedin("https://www.linkedin.com/company/acme"),
            None
        );
        assert_eq!(
            canonical_linkedin("https://evil-linkedin.com/in/jane"),
            None
        );
    }

    #[test]
    fn phones_become_e164_when_valid() {
        let us = "US".parse().ok();
        assert_eq!(e164("(202) 555-0142", us).as_deref(), Some("+12025550142"));
        assert_eq!(
            e164("+44 20 7946 0958", us).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(e164("call me maybe", us), None);
        assert_eq!(e164("123", us), None);
    }

    #[test]
    fn full_name_is_split_when_parts_are_missing() {
        let c = item(&[("full_name", "Mary Ann Smith")]);
        let changes = names(&c);
        assert_eq!(changes[0].field, "first_name");
        assert_eq!(changes[0].value, "Mary Ann");
        assert_eq!(changes[1].value, "Smith");
        assert!(names(&item(&[("full_name", "Cher")])).is_empty());
    }

    #[test]
    fn full_name_is_joined_when_missing() {
        let changes = names(&item(&[("first_name", "Jane"), ("last_name", "Smith")]));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].value, "Jane Smith");
        assert!(names(&item(&[("first_name", "J"), ("full_name", "Dr J")])).is_empty());
    }

    #[test]
    fn free_mail_domains_are_recognised() {
        assert!(is_free_mail("gmail.com"));
        assert!(!is_free_mail("acme.com"));
    }
}
