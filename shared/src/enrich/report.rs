//! What a run did: counts for the log line, the CloudWatch metrics (Embedded
//! Metric Format) and the `make enrich` summary.

use serde::Serialize;
use serde_json::{Value, json};

use super::job::Outcome;
use super::plan::Verdict;
use crate::error::ApiError;

/// CloudWatch namespace of the job's metrics.
pub const METRIC_NAMESPACE: &str = "ContactsApi/Enrichment";

/// Totals of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Contacts written (enriched + not_found + failed).
    pub processed: u64,
    pub enriched: u64,
    pub not_found: u64,
    /// Attempts that failed (`retried` of them are due again later).
    pub failed: u64,
    pub retried: u64,
    /// No longer due when the job came to write them.
    pub skipped: u64,
    /// Writes that lost a race with another writer and were merged and re-done.
    pub races: u64,
    /// Left on the queue for the next run after losing races repeatedly.
    pub deferred: u64,
    /// Contacts whose processing hit a DynamoDB error, throttling included
    /// (left on the queue for the next run).
    pub errors: u64,
    /// Contacts dropped unfinished at the run's deadline (left on the queue).
    pub interrupted: u64,
    /// The run stopped at its deadline or limit with work left.
    pub stopped_early: bool,
    pub seconds: f64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Summary {
    pub fn count(&mut self, outcome: Result<Outcome, ApiError>) {
        match outcome {
            Ok(Outcome::Written { verdict, races }) => {
                self.processed += 1;
                self.races += u64::from(races);
                match verdict {
                    Verdict::Enriched => self.enriched += 1,
                    Verdict::NotFound => self.not_found += 1,
                    Verdict::RetryLater => {
                        self.failed += 1;
                        self.retried += 1;
                    }
                    Verdict::Failed => self.failed += 1,
                }
            }
            Ok(Outcome::Skipped) => self.skipped += 1,
            Ok(Outcome::Deferred) => self.deferred += 1,
            Ok(Outcome::NotStarted) => self.stopped_early = true,
            Ok(Outcome::Interrupted) => {
                self.interrupted += 1;
                self.stopped_early = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "enriching a contact");
                self.errors += 1;
            }
        }
    }

    /// Contacts handled per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.processed as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The run's one log line: the summary as a CloudWatch Embedded Metric
    /// Format document, so the counts become metrics without API calls.
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> Value {
        let counts = [
            ("Processed", self.processed, "Count"),
            ("Enriched", self.enriched, "Count"),
            ("NotFound", self.not_found, "Count"),
            ("Failed", self.failed, "Count"),
            ("Skipped", self.skipped, "Count"),
            ("Deferred", self.deferred, "Count"),
            ("Errors", self.errors, "Count"),
            ("Interrupted", self.interrupted, "Count"),
        ];
        let mut doc = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": counts.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u}))
                        .chain([json!({"Name": "DurationSeconds", "Unit": "Seconds"})])
                        .collect::<Vec<_>>(),
                }],
            },
            "Function": function,
            "message": "enrichment run",
            "DurationSeconds": self.seconds,
            "summary": self,
        });
        for (name, value, _) in counts {
            doc[name] = json!(value);
        }
        doc
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "processed {} (enriched {}, not_found {}, failed {} of which {} retry later), \
             skipped {}, deferred {}, errors {}, interrupted {}, {:.2} s, {:.0} contacts/s{}",
            self.processed,
            self.enriched,
            self.not_found,
            self.failed,
            self.retried,
            self.skipped,
            self.deferred,
            self.errors,
            self.interrupted,
            self.seconds,
            self.rate(),
            if self.stopped_early {
                "; stopped early, the rest stays queued"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_declares_every_count_as_a_metric() {
        let mut s = Summary::default();
        s.count(Ok(Outcome::Written {
            verdict: Verdict::Enriched,
            races: 1,
        }));
        s.count(Ok(Outcome::Written {
            verdict: Verdict::RetryLater,
            races: 0,
        }));
        let doc = s.emf("enrich-contacts", 1);
        let metrics = &doc["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        for m in metrics.as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(doc.get(name).is_some(), "{name} has no value");
        }
        assert_eq!(doc["Processed"], 2);
        assert_eq!(doc["Enriched"], 1);
        assert_eq!(doc["Failed"], 1);
        assert_eq!(doc["Function"], "enrich-contacts");
    }
}
