//! Exact contact totals without counting the table: sharded counter items in
//! the contacts table, moved by `ADD` in the same transaction as the write
//! that changes what they count. A total is the sum of its shards, read with
//! one `BatchGetItem`; the shards spread concurrent writers over several
//! items so they rarely collide (`TransactionConflict`) on one hot item.
//!
//! Counter items carry only `id` and [`COUNT_ATTR`]: none of the GSI key
//! attributes, so they appear in no index and no list. The companies table
//! holds the one counter of companies the same way.

use crate::contact::{Item, text_attr};
use crate::fields::{DEFAULT_CONTACT_TYPE, DEFAULT_SOURCE};

/// Shards per counter. A total costs this many strongly consistent item
/// reads (1 RCU each); more shards mean fewer write conflicts.
pub const COUNTER_SHARDS: u32 = 4;

/// The number attribute of a counter item.
pub const COUNT_ATTR: &str = "n";

/// Key prefix of counter items.
pub const COUNTER_PREFIX: &str = "count#";

/// What a counter counts: all contacts, or those with one filter value;
/// or all companies (whose counter lives in the companies table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tally {
    All,
    Company(String),
    Type(String),
    Source(String),
    Companies,
}

impl Tally {
    /// The counter's key without the shard, e.g. `count#type#lead`.
    pub fn base(&self) -> String {
        match self {
            Tally::All => format!("{COUNTER_PREFIX}all"),
            Tally::Company(c) => format!("{COUNTER_PREFIX}company#{c}"),
            Tally::Type(t) => format!("{COUNTER_PREFIX}type#{t}"),
            Tally::Source(s) => format!("{COUNTER_PREFIX}source#{s}"),
            Tally::Companies => format!("{COUNTER_PREFIX}companies"),
        }
    }

    /// The key of one shard; the shard is last, so keys never collide
    /// whatever the filter value contains.
    pub fn shard_key(&self, shard: u32) -> String {
        format!("{}#{shard}", self.base())
    }

    /// The keys of every shard.
    pub fn shard_keys(&self) -> Vec<String> {
        (0..COUNTER_SHARDS).map(|s| self.shard_key(s)).collect()
    }
}

/// The counters a stored contact counts towards.
pub fn tallies_of(item: &Item) -> Vec<Tally> {
    tallies(
        text_attr(item, "company_id"),
        text_attr(item, "contact_type").unwrap_or(DEFAULT_CONTACT_TYPE),
        text_attr(item, "source").unwrap_or(DEFAULT_SOURCE),
    )
}

/// The counters a contact with these values counts towards.
pub fn tallies(company_id: Option<&str>, contact_type: &str, source: &str) -> Vec<Tally> {
    let mut t = vec![Tally::All];
    t.extend(company_id.map(|c| Tally::Company(c.to_string())));
    t.push(Tally::Type(contact_type.to_string()));
    t.push(Tally::Source(source.to_string()));
    t
}

/// `+1` for every counter in `after` but not `before`, `-1` for the reverse:
/// what a patch that moves a contact between filter values must `ADD`.
pub fn moves(before: &[Tally], after: &[Tally]) -> Vec<(Tally, i64)> {
    let mut out: Vec<(Tally, i64)> = before
        .iter()
        .filter(|t| !after.contains(t))
        .map(|t| (t.clone(), -1))
        .collect();
    out.extend(
        after
            .iter()
            .filter(|t| !before.contains(t))
            .map(|t| (t.clone(), 1)),
    );
    out
}

/// A shard picked at random for one write attempt.
pub fn random_shard() -> u32 {
    (ulid::Ulid::generate().random() % u128::from(COUNTER_SHARDS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_end_with_the_shard_so_values_cannot_collide() {
        let a = Tally::Source("x#1".into()).shard_key(2);
        let b = Tally::Source("x".into()).shard_key(1);
        assert_eq!(a, "count#source#x#1#2");
        assert_ne!(a, b);
        assert_eq!(
            Tally::All.shard_keys().len(),
            COUNTER_SHARDS as usize,
            "one key per shard"
        );
    }

    #[test]
    fn moving_type_decrements_old_and_increments_new_only() {
        let before = tallies(Some("co_1"), "lead", "web");
        let after = tallies(Some("co_1"), "client", "web");
        assert_eq!(
            moves(&before, &after),
            vec![
                (Tally::Type("lead".into()), -1),
                (Tally::Type("client".into()), 1)
            ]
        );
        assert!(moves(&before, &before).is_empty());
    }

    #[test]
    fn clearing_company_leaves_its_counter() {
        let m = moves(
            &tallies(Some("co_1"), "lead", "web"),
            &tallies(None, "lead", "web"),
        );
        assert_eq!(m, vec![(Tally::Company("co_1".into()), -1)]);
    }
}
