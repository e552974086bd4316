//! Where each contact's record sits, by id: the table that lets a filter
//! (Locked, Holds offer X, ...) visit only its own contacts instead of
//! asking every record whether it is in the set.
//!
//! Slot `id` holds the record's position in sort order in its low 30 bits
//! and the contact's kind in the top two (the flags byte's two kind bits), or
//! [`ABSENT`]. The table has `highest id + 1` slots, 4 bytes each (4 MiB
//! at a million contacts with dense ids); when the ids are too sparse for
//! that to be cheap there is no table and filters fall back to the scan.
//!
//! A filter's set is walked in id order, so the table is read front to
//! back; only the records a needle must be checked against are random
//! reads. With no needle that is the whole cost (a million ids in about a
//! millisecond); with a needle each id costs a record read, so the set is
//! walked only while it is small against the index ([`Tuning::walk_sets`]).

use std::collections::BinaryHeap;

use super::{
    FLAG_BASE, FLAG_CUSTOMER, FLAG_SUBSCRIBER, KindFilter, MatchCount, RowFilter, SearchIndex,
    Tuning, admits,
};
use crate::store::id_set::IdSet;

/// A slot with no record.
pub(super) const ABSENT: u32 = u32::MAX;
/// A slot's top two bits are the flags byte's kind bits (customer,
/// subscriber); the rest is the position.
const KIND_SHIFT: u32 = 30;
const POSITION_MASK: u32 = (1 << KIND_SHIFT) - 1;
/// Slots allowed per record, beyond [`FREE_SLOTS`]: ids left by deleted
/// contacts cost a little; ids spread over a huge range get no table.
const SLOTS_PER_RECORD: usize = 4;
const FREE_SLOTS: usize = 1 << 16;

/// The record position a slot holds.
pub(super) fn position(slot: u32) -> usize {
    (slot & POSITION_MASK) as usize
}

/// The record's flags byte, from the kind bits a slot keeps on top.
fn flags(slot: u32) -> u8 {
    FLAG_BASE | u8::try_from(slot >> KIND_SHIFT).unwrap_or(0)
}

/// The table for records with `ids` (in sort order) whose flags byte is
/// `flags_of(position)`; empty when the ids are too sparse or too many.
pub(super) fn build(ids: &[i64], flags_of: impl Fn(usize) -> u8) -> Vec<u32> {
    let n = ids.len();
    // Positions must fit 30 bits and never spell ABSENT.
    if n >= POSITION_MASK as usize {
        return Vec::new();
    }
    let Some(highest) = ids.iter().copied().max() else {
        return Vec::new();
    };
    let Ok(highest) = usize::try_from(highest) else {
        return Vec::new();
    };
    if highest
        >= n.saturating_mul(SLOTS_PER_RECORD)
            .saturating_add(FREE_SLOTS)
    {
        return Vec::new();
    }
    let mut table = vec![ABSENT; highest + 1];
    for (i, &id) in ids.iter().enumerate() {
        // Negative ids are never contacts: no slot.
        let (Ok(slot), Ok(position)) = (usize::try_from(id), u32::try_from(i)) else {
            continue;
        };
        let kind = u32::from(flags_of(i) & (FLAG_CUSTOMER | FLAG_SUBSCRIBER));
        table[slot] = position | (kind << KIND_SHIFT);
    }
    table
}

impl Tuning {
    /// Whether a set of `set` ids is walked rather than the `records`
    /// scanned (see the module's note).
    fn walks(self, set: usize, records: usize, needle: &[u8]) -> bool {
        match self.walk_sets {
            0 => false,
            _ if needle.is_empty() => true,
            one_in => set.saturating_mul(one_in) <= records,
        }
    }
}

impl SearchIndex {
    /// Records whose id is in `ids`: read off the by-id table, or by
    /// going through every id when there is none.
    #[must_use]
    pub fn count_ids(&self, ids: std::ops::Range<i64>) -> u64 {
        let table = self.by_id();
        if table.is_empty() {
            return self.ids().iter().filter(|id| ids.contains(id)).count() as u64;
        }
        let clamp = |id: i64| {
            usize::try_from(id.max(0))
                .unwrap_or(usize::MAX)
                .min(table.len())
        };
        let (from, to) = (clamp(ids.start), clamp(ids.end));
        table.get(from..to).map_or(0, |slots| {
            slots.iter().filter(|&&s| s != ABSENT).count() as u64
        })
    }

    /// The page (record positions from `start`, up to `limit + 1`) and
    /// the exact count of the contacts in `rows`' set whose record holds
    /// `needle` and that pass `kind`, visiting only the set's ids. `None`
    /// when there is no set, no table, or scanning is the cheaper way.
    pub(super) fn walk_set(
        &self,
        needle: &[u8],
        kind: KindFilter,
        start: usize,
        limit: usize,
        rows: &RowFilter<'_>,
    ) -> Option<(Vec<usize>, MatchCount)> {
        let set: &IdSet = rows.only?;
        let table = self.by_id();
        if table.is_empty() || !self.tuning.walks(set.len(), self.len(), needle) {
            return None;
        }
        let finder = (!needle.is_empty()).then(|| self.finder(needle));
        let hidden = rows.hidden.filter(|h| !h.is_empty());
        // The smallest positions from `start`: a max-heap of limit + 1.
        let mut page: BinaryHeap<usize> = BinaryHeap::with_capacity(limit + 2);
        let mut count = 0u64;
        for id in set.iter() {
            // Ids come in ascending order: past the table, none is held.
            let Some(&slot) = usize::try_from(id).ok().and_then(|s| table.get(s)) else {
                break;
            };
            if slot == ABSENT || !admits(kind, flags(slot)) {
                continue;
            }
            if hidden.is_some_and(|h| h.contains_key(&id)) {
                continue;
            }
            let at = position(slot);
            if let Some(finder) = &finder
                && finder.find(self.record(at)).is_none()
            {
                continue;
            }
            count += 1;
            if at < start {
                continue;
            }
            if page.len() <= limit {
                page.push(at);
            } else if let Some(mut largest) = page.peek_mut()
                && at < *largest
            {
                *largest = at;
            }
        }
        Some((page.into_sorted_vec(), MatchCount::Exact(count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search_index::IndexEntry;

    fn index(ids: impl IntoIterator<Item = i64>) -> SearchIndex {
        SearchIndex::build(
            ids.into_iter()
                .map(|id| IndexEntry {
                    id,
                    name_lower: format!("person {id}"),
                    email_lower: format!("p{id}@example.com"),
                    customer: id % 2 == 0,
                    subscriber: id % 3 == 0,
                })
                .collect(),
        )
        .expect("small")
    }

    #[test]
    fn dense_ids_get_a_table_and_sparse_ones_none() {
        let dense = index(1..=1000);
        assert_eq!(dense.by_id().len(), 1001);
        let slot = dense.by_id()[42];
        assert_eq!(dense.ids()[position(slot)], 42);
        assert_eq!(flags(slot), dense.flags(position(slot)));
        assert_eq!(dense.by_id()[0], ABSENT);
        // Ids far above the count (4 slots a record plus 64 Ki free) get none.
        assert!(index((1..=1000).map(|i| i * 1000)).by_id().is_empty());
        assert!(index(std::iter::empty()).by_id().is_empty());
    }

    #[test]
    fn a_small_set_is_walked_and_a_large_one_with_a_needle_is_not() {
        let index = index(1..=6400);
        let small: IdSet = (1..=100).collect();
        let large: IdSet = (1..=200).collect();
        let rows = |set| RowFilter::only(set);
        // 100 x 64 <= 6400: walked, with the exact count and the first page.
        let (page, count) = index
            .walk_set(b"person 1", KindFilter::All, 0, 5, &rows(&small))
            .expect("walked");
        assert_eq!(count, MatchCount::Exact(12), "1, 10-19, 100");
        let ids: Vec<i64> = page.iter().map(|&i| index.ids()[i]).collect();
        assert_eq!(ids, [1, 10, 100, 11, 12, 13]);
        assert!(
            index
                .walk_set(b"person 1", KindFilter::All, 0, 5, &rows(&large))
                .is_none()
        );
        // With no needle any set is walked: the table alone answers.
        let (_, count) = index
            .walk_set(b"", KindFilter::Customers, 0, 5, &rows(&large))
            .expect("walked");
        assert_eq!(count, MatchCount::Exact(100));
        assert!(
            index
                .walk_set(b"", KindFilter::All, 0, 5, &RowFilter::default())
                .is_none()
        );
    }
}
