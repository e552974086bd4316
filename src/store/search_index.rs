//! The in-memory search index: every contact's lowercase name and email in
//! one contiguous byte buffer, searched with `memchr::memmem`.
//!
//! Layout: records sorted by `(name_lower, id)` in byte order (the order
//! SQL returns with `COLLATE "C"` / `utf8mb4_bin` / SQLite's `BINARY`),
//! each one
//!
//! ```text
//! name_lower 0x1F email_lower FLAGS '\n'
//! ```
//!
//! where `FLAGS` is `0x10 | customer | subscriber << 1`. Beside the buffer
//! sit the record start offsets and the ids, in the same order.
//!
//! A match never spans two fields or two records, by construction: the
//! separators and the flags byte are control characters, and a needle
//! holding a control character is not searched here ([`SearchIndex::search`]
//! returns `None` and the caller uses SQL). The two control characters that
//! would break the layout (`\n`, `0x1F`) are replaced by `0x1A` inside
//! names and emails; such a contact sorts by the replaced bytes.
//!
//! Searching is a scan of the whole buffer, so it costs the same for a
//! rare needle and for no needle at all: the count is exact and the scan
//! is split over the available cores. When a small strided sample shows
//! the needle is dense (it would hit more than
//! [`Tuning::estimate_above`] contacts), counting every hit would be the
//! slow part, so the count becomes [`MatchCount::Estimate`] projected from
//! the sample, and only the page is collected.
//!
//! The index is immutable; a change makes a new one ([`SearchIndex::apply`])
//! which the owner swaps in behind an `Arc`.

use std::collections::HashMap;

use memchr::memmem::Finder;

use super::contacts::{Cursor, KindFilter, MatchCount};

const FIELD_SEP: u8 = 0x1f;
const RECORD_END: u8 = b'\n';
const FLAG_BASE: u8 = 0x10;
const FLAG_CUSTOMER: u8 = 1;
const FLAG_SUBSCRIBER: u8 = 2;
/// Stands in for `\n` and `0x1F` inside a name or email.
const REPLACEMENT: char = '\u{1a}';

/// One contact as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Contact id.
    pub id: i64,
    /// Lowercased name, as stored in `contacts.name_lower`.
    pub name_lower: String,
    /// Lowercased email, as stored in `contacts.email_lower`.
    pub email_lower: String,
    /// Holds at least one grant.
    pub customer: bool,
    /// Agreed to marketing email.
    pub subscriber: bool,
}

impl IndexEntry {
    fn flags(&self) -> u8 {
        FLAG_BASE
            | if self.customer { FLAG_CUSTOMER } else { 0 }
            | if self.subscriber { FLAG_SUBSCRIBER } else { 0 }
    }

    /// Replaces the bytes that would break the record layout.
    fn sanitise(&mut self) {
        for field in [&mut self.name_lower, &mut self.email_lower] {
            if field.bytes().any(|b| b == RECORD_END || b == FIELD_SEP) {
                *field = field.replace(['\n', '\u{1f}'], &REPLACEMENT.to_string());
            }
        }
    }

    /// The record bytes this entry becomes.
    fn record(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.name_lower.len() + self.email_lower.len() + 3);
        push_record(&mut out, self);
        out
    }
}

fn push_record(buf: &mut Vec<u8>, entry: &IndexEntry) {
    buf.extend_from_slice(entry.name_lower.as_bytes());
    buf.push(FIELD_SEP);
    buf.extend_from_slice(entry.email_lower.as_bytes());
    buf.push(entry.flags());
    buf.push(RECORD_END);
}

fn admits(kind: KindFilter, flags: u8) -> bool {
    kind.admits(flags & FLAG_CUSTOMER != 0, flags & FLAG_SUBSCRIBER != 0)
}

fn kind_slot(kind: KindFilter) -> usize {
    match kind {
        KindFilter::All => 0,
        KindFilter::Customers => 1,
        KindFilter::Subscribers => 2,
        KindFilter::Neither => 3,
    }
}

/// Why an index could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Offsets are 32-bit to keep the index small.
    #[error("the search index would exceed 4 GiB ({0} bytes); use SQL search")]
    TooLarge(usize),
}

/// Knobs for the count, exposed so tests and benchmarks can move them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Above this many projected matches the count is an estimate.
    pub estimate_above: u64,
    /// Below this many records there is no sampling and no extra thread:
    /// a scan is cheaper than either.
    pub small: usize,
    /// Threads that share an exact count (the caller's plus helpers).
    pub threads: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            // Counting costs about 25 ns a hit on one core; 150k hits split
            // over two cores stays near 2 ms on top of the scan itself.
            estimate_above: 150_000,
            small: 50_000,
            threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .clamp(1, 4),
        }
    }
}

/// Samples taken to decide whether a needle is dense: this many windows
/// spread evenly over the buffer...
const SAMPLE_WINDOWS: usize = 128;
/// ...covering together one record in this many.
const SAMPLE_FRACTION: usize = 64;

/// What the index found for one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexHits {
    /// Ids of the page's contacts, in `(name_lower, id)` order.
    pub ids: Vec<i64>,
    /// How many contacts match in all pages.
    pub total: MatchCount,
    /// Where the next page starts, if there is one.
    pub next: Option<Cursor>,
}

/// The index itself; immutable once built.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    buf: Vec<u8>,
    /// Start of each record, plus one past the last.
    offsets: Vec<u32>,
    ids: Vec<i64>,
    /// Contacts per kind filter, in [`kind_slot`] order.
    totals: [u64; 4],
    tuning: Tuning,
}

impl Default for SearchIndex {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            offsets: vec![0],
            ids: Vec::new(),
            totals: [0; 4],
            tuning: Tuning::default(),
        }
    }
}

impl SearchIndex {
    /// Builds an index from entries in any order. Later entries with the
    /// same id replace earlier ones.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn build(mut entries: Vec<IndexEntry>) -> Result<Self, IndexError> {
        for entry in &mut entries {
            entry.sanitise();
        }
        sort_entries(&mut entries);
        let size: usize = entries
            .iter()
            .map(|e| e.name_lower.len() + e.email_lower.len() + 3)
            .sum();
        if u32::try_from(size).is_err() {
            return Err(IndexError::TooLarge(size));
        }
        let mut index = Self {
            buf: Vec::with_capacity(size),
            offsets: Vec::with_capacity(entries.len() + 1),
            ids: Vec::with_capacity(entries.len()),
            totals: [0; 4],
            tuning: Tuning::default(),
        };
        for entry in &entries {
            index.push(entry.id, &entry.record());
        }
        index.finish();
        Ok(index)
    }

    /// The same index with other tuning.
    #[must_use]
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// The tuning in use.
    #[must_use]
    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    fn push(&mut self, id: i64, record: &[u8]) {
        // Lengths were checked against u32 before pushing.
        self.offsets
            .push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(record);
        self.ids.push(id);
        let flags = record[record.len() - 2];
        for kind in [
            KindFilter::All,
            KindFilter::Customers,
            KindFilter::Subscribers,
            KindFilter::Neither,
        ] {
            if admits(kind, flags) {
                self.totals[kind_slot(kind)] += 1;
            }
        }
    }

    fn finish(&mut self) {
        self.offsets
            .push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
    }

    /// Contacts held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds no contact.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Contacts admitted by a kind filter.
    #[must_use]
    pub fn total(&self, kind: KindFilter) -> u64 {
        self.totals[kind_slot(kind)]
    }

    /// The highest contact id held.
    #[must_use]
    pub fn max_id(&self) -> Option<i64> {
        self.ids.iter().copied().max()
    }

    /// Heap bytes held by the index (buffer, offsets, ids).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.buf.capacity()
            + self.offsets.capacity() * std::mem::size_of::<u32>()
            + self.ids.capacity() * std::mem::size_of::<i64>()
    }

    /// Whether a (trimmed, lowercased) needle can be searched here: it
    /// must hold no control character, so that it cannot match across a
    /// separator.
    #[must_use]
    pub fn supports(needle: &str) -> bool {
        !needle.bytes().any(|b| b < 0x20)
    }

    fn record(&self, i: usize) -> &[u8] {
        &self.buf[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn name(&self, i: usize) -> &[u8] {
        let record = self.record(i);
        let end = memchr::memchr(FIELD_SEP, record).unwrap_or(record.len());
        &record[..end]
    }

    fn flags(&self, i: usize) -> u8 {
        self.buf[self.offsets[i + 1] as usize - 2]
    }

    /// The entry at position `i` in sort order (tests and diagnostics).
    #[must_use]
    pub fn entry(&self, i: usize) -> Option<IndexEntry> {
        let id = *self.ids.get(i)?;
        let record = self.record(i);
        let sep = memchr::memchr(FIELD_SEP, record)?;
        let flags = record[record.len() - 2];
        Some(IndexEntry {
            id,
            name_lower: String::from_utf8_lossy(&record[..sep]).into_owned(),
            email_lower: String::from_utf8_lossy(&record[sep + 1..record.len() - 2]).into_owned(),
            customer: flags & FLAG_CUSTOMER != 0,
            subscriber: flags & FLAG_SUBSCRIBER != 0,
        })
    }

    /// The first record after the cursor.
    fn start_after(&self, after: Option<&Cursor>) -> usize {
        let Some(after) = after else { return 0 };
        let mut key = IndexEntry {
            id: after.id,
            name_lower: after.name_lower.clone(),
            email_lower: String::new(),
            customer: false,
            subscriber: false,
        };
        key.sanitise();
        let name = key.name_lower.as_bytes();
        // Records are sorted by (name, id): find the first one past (name, id).
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let past = match self.name(mid).cmp(name) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => self.ids[mid] > after.id,
            };
            if past {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The record holding byte `pos`.
    fn record_at(&self, pos: usize) -> usize {
        self.offsets.partition_point(|&o| o as usize <= pos) - 1
    }

    fn cursor(&self, i: usize) -> Cursor {
        Cursor {
            name_lower: String::from_utf8_lossy(self.name(i)).into_owned(),
            id: self.ids[i],
        }
    }

    /// Finds the page of `limit` contacts after `after` whose name or email
    /// contains `needle` (already trimmed and lowercased) and that pass
    /// `kind`, and counts every match.
    ///
    /// `None` when the needle holds a control character (see
    /// [`SearchIndex::supports`]); the caller then asks SQL.
    #[must_use]
    pub fn search(
        &self,
        needle: &str,
        kind: KindFilter,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Option<IndexHits> {
        if !Self::supports(needle) {
            return None;
        }
        let limit = limit.max(1);
        let start = self.start_after(after);
        let (page, total) = if needle.is_empty() {
            let page = (start..self.len())
                .filter(|&i| admits(kind, self.flags(i)))
                .take(limit + 1)
                .collect();
            (page, MatchCount::Exact(self.total(kind)))
        } else {
            self.find(needle.as_bytes(), kind, start, limit, after.is_none())
        };
        Some(self.hits(page, total, limit))
    }

    fn hits(&self, mut page: Vec<usize>, total: MatchCount, limit: usize) -> IndexHits {
        let next = (page.len() > limit).then(|| self.cursor(page[limit - 1]));
        page.truncate(limit);
        IndexHits {
            ids: page.iter().map(|&i| self.ids[i]).collect(),
            total,
            next,
        }
    }

    fn find(
        &self,
        needle: &[u8],
        kind: KindFilter,
        start: usize,
        limit: usize,
        first_page: bool,
    ) -> (Vec<usize>, MatchCount) {
        let finder = Finder::new(needle);
        let start_byte = self.offsets[start] as usize;
        let dense = if self.len() >= self.tuning.small {
            self.sample(&finder, kind)
                .filter(|projected| *projected > self.tuning.estimate_above)
        } else {
            None
        };
        if let Some(projected) = dense {
            let (page, _) = self.scan(
                &finder,
                kind,
                start_byte..self.buf.len(),
                start_byte,
                limit,
                false,
            );
            let total = if first_page && page.len() <= limit {
                // The whole result fits the page: the sample misjudged.
                MatchCount::Exact(page.len() as u64)
            } else {
                MatchCount::Estimate(round_significant(projected, 3))
            };
            return (page, total);
        }
        let (page, count) = self.scan_parallel(&finder, kind, start_byte, limit);
        (page, MatchCount::Exact(count))
    }

    /// Projects the match count from a strided sample of the records.
    fn sample(&self, finder: &Finder<'_>, kind: KindFilter) -> Option<u64> {
        let n = self.len();
        let per_window = n / (SAMPLE_WINDOWS * SAMPLE_FRACTION);
        if per_window == 0 {
            return None;
        }
        let (mut hits, mut seen) = (0u64, 0u64);
        for w in 0..SAMPLE_WINDOWS {
            let first = w * n / SAMPLE_WINDOWS;
            let last = (first + per_window).min(n);
            let range = self.offsets[first] as usize..self.offsets[last] as usize;
            hits += self.scan(finder, kind, range, usize::MAX, 0, true).1;
            seen += (last - first) as u64;
        }
        Some(hits * n as u64 / seen.max(1))
    }

    /// Scans `range` (whole records): counts matching records when `count`
    /// is set, and collects up to `limit + 1` matching records that start
    /// at or after `page_from`. Without `count` it stops once the page is
    /// full.
    fn scan(
        &self,
        finder: &Finder<'_>,
        kind: KindFilter,
        range: std::ops::Range<usize>,
        page_from: usize,
        limit: usize,
        count: bool,
    ) -> (Vec<usize>, u64) {
        let hay = &self.buf[range.clone()];
        let mut page = Vec::new();
        let mut found = 0u64;
        let mut pos = 0;
        while let Some(i) = finder.find(&hay[pos..]) {
            let hit = pos + i;
            // Records end in '\n' and a needle cannot contain one, so the
            // end of this record is the end of the match's record.
            let end = hit + memchr::memchr(RECORD_END, &hay[hit..]).unwrap_or(hay.len() - hit);
            if admits(kind, hay[end - 1]) {
                found += 1;
                let at = range.start + hit;
                if at >= page_from && page.len() <= limit {
                    page.push(self.record_at(at));
                    if !count && page.len() > limit {
                        break;
                    }
                }
            }
            pos = end + 1;
            if pos >= hay.len() {
                break;
            }
        }
        (page, found)
    }

    /// An exact count over the whole buffer, split over the tuning's
    /// threads, collecting the page on the way.
    fn scan_parallel(
        &self,
        finder: &Finder<'_>,
        kind: KindFilter,
        page_from: usize,
        limit: usize,
    ) -> (Vec<usize>, u64) {
        let parts = if self.len() < self.tuning.small {
            1
        } else {
            self.tuning.threads.max(1)
        };
        let n = self.len();
        let bounds: Vec<usize> = (0..=parts)
            .map(|p| self.offsets[p * n / parts] as usize)
            .collect();
        let results: Vec<(Vec<usize>, u64)> = if parts == 1 {
            vec![self.scan(finder, kind, 0..self.buf.len(), page_from, limit, true)]
        } else {
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..parts)
                    .map(|p| {
                        let range = bounds[p]..bounds[p + 1];
                        scope.spawn(move || self.scan(finder, kind, range, page_from, limit, true))
                    })
                    .collect();
                let mut results =
                    vec![self.scan(finder, kind, bounds[0]..bounds[1], page_from, limit, true)];
                for helper in helpers {
                    // A panicking helper would be a bug in `scan`; treat it
                    // as having found nothing rather than taking the caller down.
                    results.push(helper.join().unwrap_or_default());
                }
                results
            })
        };
        let mut page = Vec::with_capacity(limit + 1);
        let mut count = 0;
        for (part_page, part_count) in results {
            count += part_count;
            for i in part_page {
                if page.len() <= limit {
                    page.push(i);
                }
            }
        }
        (page, count)
    }

    /// A new index with `changes` written over this one (an entry per
    /// contact added or changed) and `removed` ids dropped. `None` when
    /// nothing would differ, so the caller keeps the current index.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn apply(
        &self,
        mut changes: Vec<IndexEntry>,
        removed: &[i64],
    ) -> Result<Option<Self>, IndexError> {
        for entry in &mut changes {
            entry.sanitise();
        }
        // Keep the last entry for each id.
        let mut latest: HashMap<i64, usize> = HashMap::with_capacity(changes.len());
        for (i, entry) in changes.iter().enumerate() {
            latest.insert(entry.id, i);
        }
        let mut changes: Vec<IndexEntry> = changes
            .into_iter()
            .enumerate()
            .filter(|(i, e)| latest.get(&e.id) == Some(i))
            .map(|(_, e)| e)
            .collect();
        // For each touched id: Some(record) = write this, None = drop it.
        let mut touched: HashMap<i64, Option<Vec<u8>>> =
            changes.iter().map(|e| (e.id, Some(e.record()))).collect();
        for id in removed {
            touched.entry(*id).or_insert(None);
        }
        if touched.is_empty() {
            return Ok(None);
        }
        // Which old records go, and whether anything differs at all.
        let (min, max) = touched.keys().fold((i64::MAX, i64::MIN), |(lo, hi), id| {
            (lo.min(*id), hi.max(*id))
        });
        let mut drop_old = vec![false; self.len()];
        let mut present_changed = 0usize;
        let mut differs = false;
        for (i, id) in self.ids.iter().enumerate() {
            if *id < min || *id > max {
                continue;
            }
            if let Some(new) = touched.get(id) {
                drop_old[i] = true;
                present_changed += usize::from(new.is_some());
                differs |= new.as_deref() != Some(self.record(i));
            }
        }
        // An id written that was not there before is an addition.
        differs |= present_changed < changes.len();
        if !differs {
            return Ok(None);
        }
        sort_entries(&mut changes);

        let size = self.buf.len() + changes.iter().map(|e| e.record().len()).sum::<usize>();
        if u32::try_from(size).is_err() {
            return Err(IndexError::TooLarge(size));
        }
        let mut next = Self {
            buf: Vec::with_capacity(size),
            offsets: Vec::with_capacity(self.len() + changes.len() + 1),
            ids: Vec::with_capacity(self.len() + changes.len()),
            totals: [0; 4],
            tuning: self.tuning,
        };
        let mut new_iter = changes.iter().peekable();
        for (i, dropped) in drop_old.iter().enumerate() {
            if *dropped {
                continue;
            }
            let name = self.name(i);
            let id = self.ids[i];
            while let Some(entry) = new_iter.peek() {
                let before = entry
                    .name_lower
                    .as_bytes()
                    .cmp(name)
                    .then(entry.id.cmp(&id))
                    .is_lt();
                if !before {
                    break;
                }
                next.push(entry.id, &entry.record());
                new_iter.next();
            }
            next.push(id, self.record(i));
        }
        for entry in new_iter {
            next.push(entry.id, &entry.record());
        }
        next.finish();
        Ok(Some(next))
    }
}

fn sort_entries(entries: &mut [IndexEntry]) {
    entries.sort_unstable_by(|a, b| {
        a.name_lower
            .as_bytes()
            .cmp(b.name_lower.as_bytes())
            .then(a.id.cmp(&b.id))
    });
}

/// Rounds to `digits` significant digits, so an estimate does not pretend
/// to more precision than it has.
fn round_significant(n: u64, digits: u32) -> u64 {
    let magnitude = n.checked_ilog10().unwrap_or(0) + 1;
    if magnitude <= digits {
        return n;
    }
    let unit = 10u64.pow(magnitude - digits);
    (n + unit / 2) / unit * unit
}
