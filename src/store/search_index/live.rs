//! The index as searched: an immutable base (usually the mapped index
//! file, shared by every process on the host) plus a small in-memory delta
//! of the contacts changed since the base was built.
//!
//! A contact in the delta hides its row in the base (a newer version, or
//! none when it was removed), so a search runs on both, the base skipping
//! hidden rows, and merges the two pages in `(name_lower, id)` order. The
//! delta is folded into a new base ([`LiveIndex::fold`]) once it grows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::store::id_set::IdSet;

use super::{Cursor, IndexEntry, IndexError, IndexHits, KindFilter, MatchCount, SearchIndex};

/// Which rows a search may return, besides the text and the kind filter.
#[derive(Clone, Copy, Default)]
pub struct RowFilter<'a> {
    /// Ids whose row in this index is stale, with their positions.
    pub(super) hidden: Option<&'a HashMap<i64, usize>>,
    /// Only ids in this set (the on-call filters: Locked, Holds offer X,
    /// ...): a small set is walked id by id, a large one tested while the
    /// records are scanned.
    pub only: Option<&'a IdSet>,
}

impl std::fmt::Debug for RowFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowFilter")
            .field("hidden", &self.hidden.map(HashMap::len))
            .field("only", &self.only.map(IdSet::len))
            .finish()
    }
}

impl<'a> RowFilter<'a> {
    /// Only the ids in `set`.
    #[must_use]
    pub fn only(set: &'a IdSet) -> Self {
        Self {
            hidden: None,
            only: Some(set),
        }
    }

    pub(super) fn keeps(&self, id: i64) -> bool {
        !self.hidden.is_some_and(|h| h.contains_key(&id))
            && self.only.is_none_or(|set| set.contains(id))
    }

    pub(super) fn is_everything(&self) -> bool {
        self.hidden.is_none_or(HashMap::is_empty) && self.only.is_none()
    }
}

/// A base index and the changes made since it was built.
#[derive(Debug, Clone, Default)]
pub struct LiveIndex {
    base: SearchIndex,
    /// The newest version of each contact changed since the base; `None`
    /// for one removed.
    changes: Arc<HashMap<i64, Option<IndexEntry>>>,
    /// The changed contacts that exist, searchable.
    delta: SearchIndex,
    /// Base positions of the changed contacts the base holds.
    hidden: Arc<HashMap<i64, usize>>,
}

impl LiveIndex {
    /// A base with no changes.
    #[must_use]
    pub fn new(base: SearchIndex) -> Self {
        Self {
            base,
            ..Self::default()
        }
    }

    /// The same index with other tuning.
    #[must_use]
    pub fn with_tuning(mut self, tuning: super::Tuning) -> Self {
        self.base = self.base.with_tuning(tuning);
        self.delta = self.delta.with_tuning(tuning);
        self
    }

    /// The base index.
    #[must_use]
    pub fn base(&self) -> &SearchIndex {
        &self.base
    }

    /// Contacts changed since the base was built.
    #[must_use]
    pub fn changed(&self) -> usize {
        self.changes.len()
    }

    /// Contacts held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.base.len() - self.hidden.len() + self.delta.len()
    }

    /// Whether it holds no contact.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest contact id held.
    #[must_use]
    pub fn max_id(&self) -> Option<i64> {
        let base = self
            .base
            .max_id()
            .filter(|id| !matches!(self.changes.get(id), Some(None)));
        base.max(self.delta.max_id())
    }

    /// Heap bytes this process holds (see [`SearchIndex::memory_bytes`]).
    /// Contacts held whose id is in `ids` (the census compares it with
    /// the store's count of the same ids).
    #[must_use]
    pub fn count_ids(&self, ids: std::ops::Range<i64>) -> u64 {
        let hidden = self.hidden.keys().filter(|id| ids.contains(id)).count() as u64;
        self.base.count_ids(ids.clone()).saturating_sub(hidden) + self.delta.count_ids(ids)
    }

    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let per_change = std::mem::size_of::<(i64, Option<IndexEntry>)>() + 48;
        self.base.memory_bytes()
            + self.delta.memory_bytes()
            + self.changes.len() * per_change
            + self.hidden.len() * 24
    }

    /// This index with `changes` (contacts added or changed) and `removed`
    /// ids written over it; `None` when nothing would differ.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text (not for a delta).
    pub fn with_changes(
        &self,
        changes: Vec<IndexEntry>,
        removed: &[i64],
    ) -> Result<Option<Self>, IndexError> {
        let mut incoming: Vec<(i64, Option<IndexEntry>)> = changes
            .into_iter()
            .map(|mut e| {
                e.sanitise();
                (e.id, Some(e))
            })
            .collect();
        // As in `SearchIndex::apply`, a contact both written and removed is written.
        let written: HashSet<i64> = incoming.iter().map(|(id, _)| *id).collect();
        incoming.extend(
            removed
                .iter()
                .filter(|id| !written.contains(id))
                .map(|&id| (id, None)),
        );
        // Where the base holds the ids seen for the first time: one pass
        // over the base's ids for all of them.
        let unknown: HashSet<i64> = incoming
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !self.changes.contains_key(id))
            .collect();
        let mut found: HashMap<i64, usize> = HashMap::new();
        if !unknown.is_empty() {
            for (i, id) in self.base.ids().iter().enumerate() {
                if unknown.contains(id) {
                    found.insert(*id, i);
                }
            }
        }
        let mut merged = HashMap::clone(&self.changes);
        let mut hidden = HashMap::clone(&self.hidden);
        let mut differs = false;
        for (id, entry) in incoming {
            let current = match self.changes.get(&id) {
                Some(known) => known.as_ref().map(IndexEntry::record),
                None => found.get(&id).map(|&i| self.base.record(i).to_vec()),
            };
            if current == entry.as_ref().map(IndexEntry::record) {
                continue;
            }
            differs = true;
            if let Some(&i) = found.get(&id) {
                hidden.insert(id, i);
            }
            merged.insert(id, entry);
        }
        if !differs {
            return Ok(None);
        }
        let delta = SearchIndex::build(merged.values().flatten().cloned().collect())?
            .with_tuning(self.base.tuning());
        Ok(Some(Self {
            base: self.base.clone(),
            changes: Arc::new(merged),
            delta,
            hidden: Arc::new(hidden),
        }))
    }

    /// One index holding the base and the changes, for a store read that
    /// began at `watermark` (to write as the next index file).
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn fold(&self, watermark: Option<DateTime<Utc>>) -> Result<SearchIndex, IndexError> {
        let (mut written, mut removed) = (Vec::new(), Vec::new());
        for (id, entry) in self.changes.iter() {
            match entry {
                Some(entry) => written.push(entry.clone()),
                None => removed.push(*id),
            }
        }
        match self.base.apply_at(written, &removed, watermark)? {
            Some(folded) => Ok(folded),
            None if self.base.watermark() == watermark => Ok(self.base.clone()),
            // Nothing differs, but the store was read later than the base.
            None => self.base.restamped(watermark),
        }
    }

    /// [`SearchIndex::search`] over the base and the changes.
    #[must_use]
    pub fn search(
        &self,
        needle: &str,
        kind: KindFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Option<IndexHits> {
        self.search_with(needle, kind, after, limit, None)
    }

    /// [`LiveIndex::search`] over only the ids in `only`.
    #[must_use]
    pub fn search_with(
        &self,
        needle: &str,
        kind: KindFilter,
        after: Option<&Cursor>,
        limit: usize,
        only: Option<&IdSet>,
    ) -> Option<IndexHits> {
        let limit = limit.max(1);
        let base_rows = RowFilter {
            hidden: (!self.hidden.is_empty()).then_some(&*self.hidden),
            only,
        };
        if self.changes.is_empty() {
            return self
                .base
                .search_with(needle, kind, after, limit, &base_rows);
        }
        let (from_base, base_total) = self
            .base
            .find_page(needle, kind, after, limit, &base_rows)?;
        let delta_rows = RowFilter { hidden: None, only };
        let (from_delta, delta_total) =
            self.delta
                .find_page(needle, kind, after, limit, &delta_rows)?;
        // Merge the two pages by (name, id); ids never repeat across them.
        let mut page: Vec<(&SearchIndex, usize)> = Vec::with_capacity(limit + 1);
        let (mut b, mut d) = (from_base.iter().peekable(), from_delta.iter().peekable());
        while page.len() <= limit {
            let take_base = match (b.peek(), d.peek()) {
                (Some(&&i), Some(&&j)) => self.base.key(i) < self.delta.key(j),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_base {
                page.extend(b.next().map(|&i| (&self.base, i)));
            } else {
                page.extend(d.next().map(|&j| (&self.delta, j)));
            }
        }
        let next = (page.len() > limit).then(|| {
            let (index, i) = page[limit - 1];
            index.cursor(i)
        });
        page.truncate(limit);
        let total = match (base_total, delta_total) {
            (MatchCount::Exact(a), MatchCount::Exact(b)) => MatchCount::Exact(a + b),
            (a, b) => MatchCount::Estimate(a.value() + b.value()),
        };
        Some(IndexHits {
            ids: page.iter().map(|(index, i)| index.ids()[*i]).collect(),
            total,
            next,
        })
    }
}
