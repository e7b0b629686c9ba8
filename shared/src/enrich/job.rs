//! One enrichment run: pages through the due contacts, asks the providers
//! about each, and writes the result conditionally. Each contact is its own
//! write, so a run that dies midway (or drops a contact at its deadline)
//! loses nothing: what it did not write is still on the queue for the next run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::plan::{Answer, ENRICHMENT_DATA, Findings, RetryPolicy, Verdict, plan};
use super::provider::Provider;
use super::queue::{self, Meter, Queue};
use super::report::Summary;
use crate::contact::{Item, text_attr, version_of};
use crate::error::ApiError;

/// Writes that lose the race this many times in a row are left for the next run.
const MAX_RACES: u32 = 5;

/// When a run must stop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// No contact is started after this instant.
    pub stop_at: Option<Instant>,
    /// Work still in flight at this instant (a provider call, a wait for a
    /// provider slot, a write) is dropped, and the run returns: what it had
    /// not written stays due.
    pub finish_by: Option<Instant>,
    /// At most this many contacts are started.
    pub max_contacts: Option<usize>,
}

impl Limits {
    /// For a deadline `remaining` from now: starts nothing in the last
    /// `reserve`, and drops what is still running half-way through it, so
    /// the run has `reserve / 2` left to log its summary and return.
    pub fn before_deadline(remaining: Duration, reserve: Duration) -> Self {
        let now = Instant::now();
        Limits {
            stop_at: Some(now + remaining.saturating_sub(reserve)),
            finish_by: Some(now + remaining.saturating_sub(reserve / 2)),
            max_contacts: None,
        }
    }
}

/// Awaits `work`, giving up at `finish_by` (if any) with `None`.
async fn until<T>(finish_by: Option<Instant>, work: impl Future<Output = T>) -> Option<T> {
    match finish_by {
        Some(at) => tokio::time::timeout_at(tokio::time::Instant::from_std(at), work)
            .await
            .ok(),
        None => Some(work.await),
    }
}

/// What happened to one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Written {
        verdict: Verdict,
        races: u32,
    },
    /// No longer due when re-read (a user changed its status, or another run got it).
    Skipped,
    /// Lost the race [`MAX_RACES`] times; still due, left for the next run.
    Deferred,
    /// Not started: the run reached its limits.
    NotStarted,
    /// Dropped unfinished at the run's `finish_by`; still due.
    Interrupted,
}

/// The job: the queue, the providers in the order they are asked, and settings.
pub struct Job {
    pub queue: Queue,
    pub providers: Vec<Box<dyn Provider>>,
    pub retry: RetryPolicy,
    /// Contacts enriched at once.
    pub concurrency: usize,
    /// Contacts read per index page.
    pub page_size: i32,
    pub meter: Arc<Meter>,
}

fn now_ms() -> i64 {
    queue::epoch_ms(&crate::store::now())
}

impl Job {
    /// Asks every provider, in order; a provider that cannot answer now
    /// stops the chain (the whole contact is retried later).
    async fn ask(&self, contact: &Item) -> Findings {
        let mut answers = Vec::with_capacity(self.providers.len());
        for p in &self.providers {
            let lookup = p.lookup(contact).await;
            let stop = matches!(lookup, super::Lookup::Retry { .. });
            answers.push(Answer {
                provider: p.name(),
                person_source: p.is_person_source(),
                lookup,
            });
            if stop {
                break;
            }
        }
        Findings { answers }
    }

    /// Enriches one contact as read from the queue. When the conditional
    /// write loses to another writer, re-reads the contact and plans again
    /// (user-set values win); asks the providers again only if the email changed.
    pub async fn process(&self, read: Item) -> Result<Outcome, ApiError> {
        let Some(id) = text_attr(&read, crate::contact::attr::ID).map(str::to_string) else {
            return Ok(Outcome::Skipped);
        };
        let mut current = read;
        // A failed attempt left `enrichment_data`, which the index does not
        // project: read the whole contact first instead of failing the write.
        if queue::attempts(&current) > 0 && !current.contains_key(ENRICHMENT_DATA) {
            match self.queue.read(&id, &self.meter).await? {
                Some(full) if queue::is_due(&full, now_ms()) => current = full,
                _ => return Ok(Outcome::Skipped),
            }
        }
        let mut findings = self.ask(&current).await;
        let mut races = 0;
        // One more try than races allowed: the first write of a contact read
        // from the index can fail only because it has `enrichment_data`.
        for _ in 0..=MAX_RACES {
            let p = plan(&current, &findings, self.retry, now_ms());
            if self
                .queue
                .write(&id, &p.update, p.company_linked.as_deref(), &self.meter)
                .await?
            {
                return Ok(Outcome::Written {
                    verdict: p.verdict,
                    races,
                });
            }
            let Some(fresh) = self.queue.read(&id, &self.meter).await? else {
                return Ok(Outcome::Skipped);
            };
            if !queue::is_due(&fresh, now_ms()) {
                return Ok(Outcome::Skipped);
            }
            if version_of(&fresh) != version_of(&current) {
                races += 1;
                if races >= MAX_RACES {
                    break;
                }
            }
            if text_attr(&fresh, "email") != text_attr(&current, "email") {
                findings = self.ask(&fresh).await;
            }
            current = fresh;
        }
        Ok(Outcome::Deferred)
    }

    /// Enriches contact `id` if it is due now (used by tests and tools).
    pub async fn process_id(&self, id: &str) -> Result<Outcome, ApiError> {
        match self.queue.read(id, &self.meter).await? {
            Some(item) if queue::is_due(&item, now_ms()) => self.process(item).await,
            _ => Ok(Outcome::Skipped),
        }
    }

    /// One pass over the contacts due when it starts. Contacts rescheduled
    /// during the pass are due later, so none is processed twice in a run.
    /// `progress` is called after each contact with the running totals.
    /// Returns by `limits.finish_by` whatever the providers and DynamoDB do.
    pub async fn run(&self, limits: Limits, progress: &(dyn Fn(&Summary) + Sync)) -> Summary {
        let started = Instant::now();
        let as_of = now_ms();
        let mut summary = Summary::default();
        let mut start = None;
        let mut begun = 0usize;
        let out_of_budget = |begun: usize| {
            limits.stop_at.is_some_and(|t| Instant::now() >= t)
                || limits.max_contacts.is_some_and(|m| begun >= m)
        };
        loop {
            if out_of_budget(begun) {
                summary.stopped_early = true;
                break;
            }
            let page = self
                .queue
                .due_page(as_of, self.page_size, start.take(), &self.meter);
            let (items, next) = match until(limits.finish_by, page).await {
                Some(Ok(page)) => page,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "reading the enrichment queue");
                    summary.errors += 1;
                    break;
                }
                None => {
                    summary.stopped_early = true;
                    break;
                }
            };
            let mut outcomes = futures::stream::iter(items)
                .map(|item| {
                    let go = !out_of_budget(begun);
                    if go {
                        begun += 1;
                    }
                    async move {
                        if !go {
                            return Ok(Outcome::NotStarted);
                        }
                        until(limits.finish_by, self.process(item))
                            .await
                            .unwrap_or(Ok(Outcome::Interrupted))
                    }
                })
                .buffer_unordered(self.concurrency.max(1));
            while let Some(outcome) = outcomes.next().await {
                summary.count(outcome);
                progress(&summary);
            }
            drop(outcomes);
            match next {
                Some(key) if !summary.stopped_early => start = Some(key),
                _ => break,
            }
        }
        let (read, write) = self.meter.totals();
        summary.read_units = read;
        summary.write_units = write;
        summary.seconds = started.elapsed().as_secs_f64();
        summary
    }
}
