//! Turns what the providers found into one conditional update of a contact.
//! Every update is guarded by the `version` the job read, so a contact a
//! user changed meanwhile is never overwritten: the job re-reads it and
//! plans again, and proposals whose basis no longer holds are dropped.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value, json};

use super::provider::{Change, Lookup};
use super::queue::{self, ATTEMPTS, DUE_AT, QUEUE};
use crate::contact::{Item, attr, text_attr, version_of};
use crate::fields::contact_field;
use crate::store::expr::Update;
use crate::validate;

/// One provider's answer about one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub provider: &'static str,
    /// See [`crate::enrich::Provider::is_person_source`].
    pub person_source: bool,
    pub lookup: Lookup,
}

/// Every provider's answer for one contact, in provider order.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub answers: Vec<Answer>,
}

/// The contact attribute the job records provenance in.
pub const ENRICHMENT_DATA: &str = "enrichment_data";

/// Keys of `enrichment_data` that belong to the job: each write replaces
/// all of them. Every other key (one a user PATCHed in) is kept as it was.
pub const JOB_KEYS: &[&str] = &[
    "providers",
    "found_by",
    "enriched_at",
    "fields_set",
    "facts",
    "provider",
    "attempts",
    "last_error",
    "failed_at",
    "next_attempt_at",
];

/// Retry policy for failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// After this many failed attempts the contact stays `failed`.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

/// The status a plan gives the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Enriched,
    NotFound,
    /// Failed; due again later.
    RetryLater,
    /// Failed for the last time; off the queue.
    Failed,
}

impl Verdict {
    pub fn status(self) -> &'static str {
        match self {
            Verdict::Enriched => "enriched",
            Verdict::NotFound => "not_found",
            Verdict::RetryLater | Verdict::Failed => "failed",
        }
    }
}

/// An update ready to be written, and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub update: Update,
    pub verdict: Verdict,
    /// Fields the update sets, with the provider that proposed each.
    pub fields_set: Vec<(&'static str, &'static str)>,
    /// The company the update links the contact to, whose total must move
    /// in the same write.
    pub company_linked: Option<String>,
    /// The `enrichment_data` the update writes.
    pub data: Map<String, Value>,
}

/// Checks a proposed value against the field table's rules (kind, limits),
/// so a provider can never store what the API would refuse.
fn acceptable(change: &Change) -> bool {
    contact_field(change.field).is_some_and(|f| {
        matches!(validate::check(f, Value::String(change.value.clone())), Ok(Some(v)) if v.as_text() == Some(change.value.as_str()))
    })
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// Plans the write for `current` (the contact as last read) at `now_ms`.
pub fn plan(current: &Item, findings: &Findings, retry: RetryPolicy, now_ms: i64) -> Plan {
    let now = queue::rfc3339(now_ms);
    let mut u = Update::new();
    let failure = findings.answers.iter().find_map(|a| match &a.lookup {
        Lookup::Retry { reason, after } => Some((a.provider, reason.as_str(), *after)),
        _ => None,
    });
    // Derived facts (the built-in provider's) make a person "found" only
    // when no person-data source was asked.
    let person_asked = findings.answers.iter().any(|a| a.person_source);

    let (verdict, fields_set, data, company_linked) =
        if let Some((provider, reason, after)) = failure {
            let failed = queue::attempts(current) + 1;
            let mut data = json!({
                "provider": provider,
                "attempts": failed,
                "last_error": reason,
                "failed_at": now,
            });
            let verdict = if failed >= retry.max_attempts {
                u.remove(QUEUE).remove(DUE_AT);
                Verdict::Failed
            } else {
                let next = now_ms
                    + queue::backoff(retry.base, retry.cap, failed, after).as_millis() as i64;
                u.set(DUE_AT, AttributeValue::N(next.to_string()));
                data["next_attempt_at"] = Value::String(queue::rfc3339(next));
                Verdict::RetryLater
            };
            u.set(ATTEMPTS, AttributeValue::N(failed.to_string()));
            (verdict, Vec::new(), data, None)
        } else {
            let mut working = current.clone();
            let mut fields_set: Vec<(&'static str, &'static str)> = Vec::new();
            let mut checked: Vec<&'static str> = Vec::new();
            let mut facts = Map::new();
            let mut found_by = Vec::new();
            for answer in &findings.answers {
                let provider = &answer.provider;
                let Lookup::Found { changes, facts: f } = &answer.lookup else {
                    continue;
                };
                if answer.person_source || !person_asked {
                    found_by.push(Value::String(provider.to_string()));
                }
                if !f.is_empty() {
                    facts.insert(provider.to_string(), Value::Object(f.clone()));
                }
                for change in changes {
                    if change.applies_to(&working) && acceptable(change) {
                        // DynamoDB re-checks the basis at write time (except what
                        // this plan itself set), so even a field the job did not
                        // read, or read stale, is never overwritten.
                        for (f, v) in &change.basis {
                            if checked.contains(f) || fields_set.iter().any(|(set, _)| set == f) {
                                continue;
                            }
                            checked.push(f);
                            match v {
                                None => u.require_absent(f),
                                Some(v) => u.require_eq(f, s(v)),
                            };
                        }
                        working.insert(change.field.to_string(), s(&change.value));
                        fields_set.push((change.field, *provider));
                    }
                }
            }
            for (field, _) in &fields_set {
                let value = working[*field].clone();
                if *field == "full_name"
                    && let Ok(name) = value.as_s()
                {
                    // The write is conditional on the version read, so the
                    // email read is the one the search copy pairs it with.
                    let name_lc = name.to_lowercase();
                    let email_lc = text_attr(&working, "email").map(str::to_lowercase);
                    u.set(attr::NAME_LC, s(&name_lc));
                    crate::search::set_copy(&mut u, Some(&name_lc), email_lc.as_deref());
                }
                u.set(field, value);
            }
            let verdict = if found_by.is_empty() {
                Verdict::NotFound
            } else {
                Verdict::Enriched
            };
            let set: Map<String, Value> = fields_set
                .iter()
                .map(|(f, p)| (f.to_string(), Value::String(p.to_string())))
                .collect();
            let data = json!({
                "providers": findings.answers.iter().map(|a| a.provider).collect::<Vec<_>>(),
                "found_by": found_by,
                "enriched_at": now,
                "fields_set": set,
                "facts": facts,
            });
            u.remove(QUEUE).remove(DUE_AT).remove(ATTEMPTS);
            let company_linked = fields_set
                .iter()
                .any(|(f, _)| *f == "company_id")
                .then(|| {
                    working
                        .get("company_id")
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                })
                .flatten();
            (verdict, fields_set, data, company_linked)
        };

    let data = merged_data(current, data.as_object().cloned().unwrap_or_default());
    // Conditional on the value the plan merged into, so what a user put
    // there meanwhile is merged too, never overwritten. A contact read from
    // the queue index carries no `enrichment_data` (it is not projected):
    // when it has one, this fails and the job re-reads the whole contact.
    match current.get(ENRICHMENT_DATA) {
        Some(read) => u.require_eq(ENRICHMENT_DATA, read.clone()),
        None => u.require_absent(ENRICHMENT_DATA),
    };
    u.set("enrichment_status", s(verdict.status()))
        .set(
            ENRICHMENT_DATA,
            crate::contact::attribute(&crate::validate::FieldValue::Object(data.clone())),
        )
        .set(attr::UPDATED_AT, s(&now))
        .add(attr::VERSION, 1)
        .require_present(QUEUE)
        .require_eq(
            attr::VERSION,
            AttributeValue::N(version_of(current).unwrap_or(0).to_string()),
        );
    Plan {
        update: u,
        verdict,
        fields_set,
        company_linked,
        data,
    }
}

/// `enrichment_data` after this write: what `current` holds, minus the
/// job's previous keys ([`JOB_KEYS`]), plus the job's new `data`.
fn merged_data(current: &Item, data: Map<String, Value>) -> Map<String, Value> {
    let mut merged = current
        .get(ENRICHMENT_DATA)
        .and_then(|v| v.as_s().ok())
        .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
        .unwrap_or_default();
    merged.retain(|k, _| !JOB_KEYS.contains(&k.as_str()));
    merged.extend(data);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_secs(60),
        cap: Duration::from_secs(3600),
    };

    fn item(pairs: &[(&str, &str)]) -> Item {
        let mut i: Item = pairs.iter().map(|(k, v)| (k.to_string(), s(*v))).collect();
        i.insert(attr::VERSION.into(), AttributeValue::N("4".into()));
        i.insert(QUEUE.into(), s("due"));
        i
    }

    fn answer(provider: &'static str, person_source: bool, lookup: Lookup) -> Answer {
        Answer {
            provider,
            person_source,
            lookup,
        }
    }

    fn found_lookup(changes: Vec<Change>) -> Lookup {
        Lookup::Found {
            changes,
            facts: Map::new(),
        }
    }

    fn found(changes: Vec<Change>) -> Findings {
        Findings {
            answers: vec![answer("p", true, found_lookup(changes))],
        }
    }

    fn down() -> Findings {
        Findings {
            answers: vec![answer(
                "http",
                true,
                Lookup::Retry {
                    reason: "status 500".into(),
                    after: None,
                },
            )],
        }
    }

    fn values(p: &Plan) -> Vec<AttributeValue> {
        p.update.ph.values().unwrap().into_values().collect()
    }

    #[test]
    fn user_set_fields_are_never_overwritten() {
        let cur = item(&[("photo_url", "https://user.example/me.png")]);
        let p = plan(
            &cur,
            &found(vec![
                Change::fill("photo_url", "https://provider.example/p.png"),
                Change::fill("title", "CTO"),
            ]),
            RETRY,
            NOW,
        );
        assert_eq!(p.fields_set, vec![("title", "p")]);
        assert_eq!(p.verdict, Verdict::Enriched);
        assert!(!values(&p).contains(&s("https://provider.example/p.png")));
    }

    #[test]
    fn the_write_is_conditional_on_the_version_read() {
        let p = plan(&item(&[]), &found(vec![]), RETRY, NOW);
        assert!(values(&p).contains(&AttributeValue::N("4".into())));
        let cond = p.update.condition().unwrap();
        assert!(
            cond.contains("attribute_exists") && cond.contains(" = "),
            "{cond}"
        );
    }

    #[test]
    fn every_fill_is_rechecked_by_the_write_condition() {
        let p = plan(
            &item(&[]),
            &found(vec![Change::fill("title", "CTO")]),
            RETRY,
            NOW,
        );
        let cond = p.update.condition().unwrap();
        let names = p.update.ph.names().unwrap();
        let title = names.iter().find(|(_, a)| *a == "title").unwrap().0;
        assert!(
            cond.contains(&format!("attribute_not_exists({title})")),
            "{cond}"
        );
    }

    #[test]
    fn invalid_provider_values_are_dropped() {
        let p = plan(
            &item(&[]),
            &found(vec![Change::fill("photo_url", "javascript:alert(1)")]),
            RETRY,
            NOW,
        );
        assert!(p.fields_set.is_empty());
    }

    #[test]
    fn failures_back_off_then_stay_failed() {
        let retry = down();
        let p = plan(&item(&[]), &retry, RETRY, NOW);
        assert_eq!(p.verdict, Verdict::RetryLater);
        assert!(values(&p).contains(&AttributeValue::N((NOW + 60_000).to_string())));
        let mut cur = item(&[]);
        cur.insert(ATTEMPTS.into(), AttributeValue::N("2".into()));
        let p = plan(&cur, &retry, RETRY, NOW);
        assert_eq!(p.verdict, Verdict::Failed);
        assert!(p.update.expression().unwrap().contains("REMOVE"));
    }

    #[test]
    fn nothing_found_is_not_found() {
        let f = Findings {
            answers: vec![answer("p", true, Lookup::NotFound)],
        };
        assert_eq!(plan(&item(&[]), &f, RETRY, NOW).verdict, Verdict::NotFound);
    }

    #[test]
    fn derived_facts_alone_do_not_find_a_person_a_person_source_does_not_know() {
        let f = Findings {
            answers: vec![
                answer("http", true, Lookup::NotFound),
                answer(
                    "builtin",
                    false,
                    found_lookup(vec![Change::replace(
                        "phone",
                        "(202) 555-0142",
                        "+12025550142",
                    )]),
                ),
            ],
        };
        let p = plan(&item(&[("phone", "(202) 555-0142")]), &f, RETRY, NOW);
        assert_eq!(p.verdict, Verdict::NotFound);
        assert_eq!(
            p.fields_set,
            vec![("phone", "builtin")],
            "the tidying still lands"
        );
        assert_eq!(p.data["found_by"], json!([]));
    }

    #[test]
    fn a_person_source_that_knows_the_person_makes_it_enriched() {
        let f = Findings {
            answers: vec![
                answer(
                    "http",
                    true,
                    found_lookup(vec![Change::fill("title", "CTO")]),
                ),
                answer("builtin", false, found_lookup(vec![])),
            ],
        };
        let p = plan(&item(&[]), &f, RETRY, NOW);
        assert_eq!(p.verdict, Verdict::Enriched);
        assert_eq!(p.data["found_by"], json!(["http"]));
    }

    #[test]
    fn with_only_derived_sources_what_they_find_counts() {
        let f = Findings {
            answers: vec![answer("builtin", false, found_lookup(vec![]))],
        };
        let p = plan(&item(&[]), &f, RETRY, NOW);
        assert_eq!(p.verdict, Verdict::Enriched);
        assert_eq!(p.data["found_by"], json!(["builtin"]));
        let f = Findings {
            answers: vec![answer("builtin", false, Lookup::NotFound)],
        };
        assert_eq!(plan(&item(&[]), &f, RETRY, NOW).verdict, Verdict::NotFound);
    }

    fn with_data(data: Value) -> Item {
        let mut i = item(&[]);
        i.insert(ENRICHMENT_DATA.into(), s(data.to_string()));
        i
    }

    #[test]
    fn a_users_enrichment_data_is_merged_into_not_overwritten() {
        let user = json!({"crm": "hubspot", "score": 7});
        let cur = with_data(user.clone());
        let p = plan(&cur, &found(vec![]), RETRY, NOW);
        assert_eq!(p.data["crm"], "hubspot");
        assert_eq!(p.data["score"], 7);
        assert!(p.data["enriched_at"].is_string());
        assert!(
            values(&p).contains(&s(user.to_string())),
            "the write is conditional on the value read"
        );
        let p = plan(&cur, &down(), RETRY, NOW);
        assert_eq!(
            (p.data["crm"].clone(), p.data["attempts"].clone()),
            (json!("hubspot"), json!(1))
        );
    }

    #[test]
    fn the_jobs_own_earlier_keys_are_replaced() {
        let cur = with_data(json!({
            "crm": "hubspot", "attempts": 2, "last_error": "status 500",
            "failed_at": "x", "next_attempt_at": "y", "provider": "http"
        }));
        let p = plan(&cur, &found(vec![]), RETRY, NOW);
        let mut keys: Vec<_> = p.data.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "crm",
                "enriched_at",
                "facts",
                "fields_set",
                "found_by",
                "providers"
            ]
        );
    }

    #[test]
    fn every_key_the_job_writes_is_one_of_its_own() {
        for p in [
            plan(&item(&[]), &found(vec![]), RETRY, NOW),
            plan(&item(&[]), &down(), RETRY, NOW),
        ] {
            for k in p.data.keys() {
                assert!(JOB_KEYS.contains(&k.as_str()), "{k}");
            }
        }
    }

    #[test]
    fn without_enrichment_data_read_the_write_requires_there_is_none() {
        let p = plan(&item(&[]), &found(vec![]), RETRY, NOW);
        let cond = p.update.condition().unwrap();
        let names = p.update.ph.names().unwrap();
        let data = names.iter().find(|(_, a)| *a == ENRICHMENT_DATA).unwrap().0;
        assert!(
            cond.contains(&format!("attribute_not_exists({data})")),
            "{cond}"
        );
    }
}
