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
//! Searching is a scan of the whole buffer (memmem's SIMD prefilter looks
//! for the needle's two rarest bytes, ranked by this buffer's own byte
//! frequencies), split over the available cores; the page is collected
//! and every match counted on the way. When a small strided sample shows
//! the needle is dense (it would hit more than [`Tuning::estimate_above`]
//! contacts), counting every hit would be the slow part, so the count
//! becomes [`MatchCount::Estimate`] projected from the sample (three
//! significant digits), and the scan stops once the page is full.
//!
//! The index is immutable; a change makes a new one ([`SearchIndex::apply`])
//! which the owner swaps in behind an `Arc`.

mod build;
mod filter;

use memchr::arch::all::packedpair::HeuristicFrequencyRank;
use memchr::memmem::{Finder, FinderBuilder};

pub use build::IndexBuilder;
use filter::{BLOCK_RECORDS, BlockFilter};

use super::contacts::{Cursor, KindFilter, MatchCount};
use super::id_set::IdSet;

const FIELD_SEP: u8 = 0x1f;
const RECORD_END: u8 = b'\n';
const FLAG_BASE: u8 = 0x10;
const FLAG_CUSTOMER: u8 = 1;
const FLAG_SUBSCRIBER: u8 = 2;
/// Stands in for `\n` and `0x1F` inside a name or email.
const REPLACEMENT: char = '\u{1a}';
const REPLACEMENT_BYTE: u8 = 0x1a;

fn flags_byte(customer: bool, subscriber: bool) -> u8 {
    FLAG_BASE
        | if customer { FLAG_CUSTOMER } else { 0 }
        | if subscriber { FLAG_SUBSCRIBER } else { 0 }
}

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
        flags_byte(self.customer, self.subscriber)
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

/// What a search admits besides its text: a kind, and maybe only the ids
/// of a set (the console's filters).
#[derive(Debug, Clone, Copy)]
pub struct Select<'a> {
    /// The kind filter.
    pub kind: KindFilter,
    /// Only these contacts, when set.
    pub only: Option<&'a IdSet>,
}

impl Select<'_> {
    fn admits(&self, id: i64, flags: u8) -> bool {
        admits(self.kind, flags) && self.only.is_none_or(|set| set.contains(id))
    }

    /// For a match found at byte `pos` of the buffer: the record's id is
    /// looked up only when a set asks for it.
    fn admits_at(&self, index: &SearchIndex, pos: usize, flags: u8) -> bool {
        admits(self.kind, flags)
            && self
                .only
                .is_none_or(|set| set.contains(index.ids[index.record_at(pos)]))
    }
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
            // Counting costs some 30 ns a hit on one core: 50k hits split
            // over two cores add under a millisecond to the scan itself.
            estimate_above: 50_000,
            small: 50_000,
            threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .clamp(1, 4),
        }
    }
}

/// Samples taken to decide whether a needle is dense: up to this many
/// short windows spread evenly over the records (many small windows, since
/// equal and similar names sit together in sort order)...
const SAMPLE_WINDOWS: usize = 4096;
/// ...covering together about one record in this many.
const SAMPLE_FRACTION: usize = 32;

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
    /// How common each byte is in this buffer, for memmem's prefilter.
    ranks: ByteRanks,
    /// Which blocks of records may hold a given needle.
    filter: BlockFilter,
}

/// Byte frequencies of the buffer itself, ranked 0 (absent or rarest) to
/// 255 (most common). memmem's prefilter looks for the needle's two
/// rarest bytes; its built-in table guesses from ordinary text, where `@`
/// is rare, but here every record holds one, so a needle like
/// `@seznam.cz` would otherwise make every record a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteRanks([u8; 256]);

impl Default for ByteRanks {
    fn default() -> Self {
        Self([0; 256])
    }
}

impl ByteRanks {
    fn of(buf: &[u8]) -> Self {
        // Four counters, so neighbouring equal bytes do not wait on each other.
        let mut counts = [[0u64; 256]; 4];
        let mut chunks = buf.chunks_exact(4);
        for c in &mut chunks {
            counts[0][usize::from(c[0])] += 1;
            counts[1][usize::from(c[1])] += 1;
            counts[2][usize::from(c[2])] += 1;
            counts[3][usize::from(c[3])] += 1;
        }
        for &b in chunks.remainder() {
            counts[0][usize::from(b)] += 1;
        }
        let total: Vec<u64> = (0..256)
            .map(|b| counts.iter().map(|c| c[b]).sum())
            .collect();
        let mut order: Vec<usize> = (0..256).collect();
        order.sort_by_key(|&b| total[b]);
        let mut ranks = [0u8; 256];
        for (position, &b) in order.iter().enumerate() {
            ranks[b] = if total[b] == 0 {
                0
            } else {
                u8::try_from(position).unwrap_or(u8::MAX)
            };
        }
        Self(ranks)
    }
}

impl HeuristicFrequencyRank for &ByteRanks {
    fn rank(&self, byte: u8) -> u8 {
        self.0[usize::from(byte)]
    }
}

impl Default for SearchIndex {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            offsets: vec![0],
            ids: Vec::new(),
            totals: [0; 4],
            tuning: Tuning::default(),
            ranks: ByteRanks::default(),
            filter: BlockFilter::default(),
        }
    }
}

impl SearchIndex {
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

    fn with_capacity(records: usize, bytes: usize, tuning: Tuning) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            offsets: Vec::with_capacity(records + 1),
            ids: Vec::with_capacity(records),
            totals: [0; 4],
            tuning,
            ranks: ByteRanks::default(),
            filter: BlockFilter::default(),
        }
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
        self.ranks = ByteRanks::of(&self.buf);
        self.filter = BlockFilter::of(self);
    }

    /// The text of block `block` (see [`filter`]).
    fn block_bytes(&self, block: usize) -> &[u8] {
        &self.buf[self.block_range(block, 1)]
    }

    /// The bytes of `count` blocks from `first`.
    fn block_range(&self, first: usize, count: usize) -> std::ops::Range<usize> {
        let n = self.len();
        let from = (first * BLOCK_RECORDS).min(n);
        let to = ((first + count) * BLOCK_RECORDS).min(n);
        self.offsets[from] as usize..self.offsets[to] as usize
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

    /// Heap bytes held by the index (buffer, offsets, ids, block filter).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.filter.memory_bytes()
            + self.buf.capacity()
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
        self.search_only(needle, Select { kind, only: None }, after, limit)
    }

    /// [`SearchIndex::search`] narrowed to the contacts `sel.only` holds
    /// (a console filter): the same scans, each record also asked whether
    /// its id is in the set.
    #[must_use]
    pub fn search_only(
        &self,
        needle: &str,
        sel: Select<'_>,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Option<IndexHits> {
        if !Self::supports(needle) {
            return None;
        }
        let limit = limit.max(1);
        let start = self.start_after(after);
        let (page, total) = if needle.is_empty() {
            let admitted = |i: &usize| sel.admits(self.ids[*i], self.flags(*i));
            let page = (start..self.len())
                .filter(admitted)
                .take(limit + 1)
                .collect();
            let total = match sel.only {
                None => self.total(sel.kind),
                Some(_) => (0..self.len()).filter(admitted).count() as u64,
            };
            (page, MatchCount::Exact(total))
        } else {
            self.find(needle.as_bytes(), sel, start, limit, after.is_none())
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
        sel: Select<'_>,
        start: usize,
        limit: usize,
        first_page: bool,
    ) -> (Vec<usize>, MatchCount) {
        let finder = FinderBuilder::new().build_forward_with_ranker(&self.ranks, needle);
        let start_byte = self.offsets[start] as usize;
        // The trigram filter bounds the hits from above: when its candidate
        // blocks hold few enough records, count them exactly straight away.
        let candidates = self.filter.candidates(needle);
        if let Some(bitmap) = &candidates {
            let covered = bitmap
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>();
            if (covered * BLOCK_RECORDS) as u64 <= self.tuning.estimate_above {
                return self.scan_blocks(bitmap, &finder, sel, start_byte, limit);
            }
        }
        // Counting costs by the records the needle hits, whether or not the
        // kind filter then admits them; so density is judged on hits.
        let dense = if self.len() >= self.tuning.small {
            self.sample(&finder, sel)
                .filter(|(hits, _)| *hits > self.tuning.estimate_above)
        } else {
            None
        };
        if let Some((_, projected)) = dense {
            let (page, ..) = self.scan(
                &finder,
                sel,
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
        if let Some(bitmap) = &candidates {
            let covered = bitmap
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>();
            // Past a quarter of the blocks, a parallel scan of everything is as quick.
            if covered * 4 <= self.filter.blocks() {
                return self.scan_blocks(bitmap, &finder, sel, start_byte, limit);
            }
        }
        let (page, count) = self.scan_parallel(&finder, sel, start_byte, limit);
        (page, MatchCount::Exact(count))
    }

    /// An exact count over only the blocks the trigram filter lets through.
    fn scan_blocks(
        &self,
        candidates: &[u64],
        finder: &Finder<'_>,
        sel: Select<'_>,
        page_from: usize,
        limit: usize,
    ) -> (Vec<usize>, MatchCount) {
        let mut page = Vec::with_capacity(limit + 1);
        let mut count = 0;
        for (first, len) in filter::runs(candidates) {
            let range = self.block_range(first, len);
            // Once the page is full, later blocks are only counted.
            let from = if page.len() > limit {
                usize::MAX
            } else {
                page_from
            };
            let (found, matches, _) = self.scan(finder, sel, range, from, limit, true);
            count += matches;
            for i in found {
                if page.len() <= limit {
                    page.push(i);
                }
            }
        }
        (page, MatchCount::Exact(count))
    }

    /// Projects from a strided sample of the records how many the needle
    /// hits, and how many of those the kind filter admits.
    fn sample(&self, finder: &Finder<'_>, sel: Select<'_>) -> Option<(u64, u64)> {
        let n = self.len();
        let windows = SAMPLE_WINDOWS.min(n / SAMPLE_FRACTION);
        if windows == 0 {
            return None;
        }
        let per_window = (n / (windows * SAMPLE_FRACTION)).max(1);
        let (mut hits, mut admitted, mut seen) = (0u64, 0u64, 0u64);
        for w in 0..windows {
            let first = w * n / windows;
            let last = (first + per_window).min(n);
            let range = self.offsets[first] as usize..self.offsets[last] as usize;
            let (_, yes, all) = self.scan(finder, sel, range, usize::MAX, 0, true);
            admitted += yes;
            hits += all;
            seen += (last - first) as u64;
        }
        let project = |k: u64| k * n as u64 / seen.max(1);
        Some((project(hits), project(admitted)))
    }

    /// Scans `range` (whole records): counts the records the needle hits
    /// and, of those, the ones the kind filter admits (the matches), and
    /// collects up to `limit + 1` matches that start at or after
    /// `page_from`. Without `count` it stops once the page is full.
    fn scan(
        &self,
        finder: &Finder<'_>,
        sel: Select<'_>,
        range: std::ops::Range<usize>,
        page_from: usize,
        limit: usize,
        count: bool,
    ) -> (Vec<usize>, u64, u64) {
        let hay = &self.buf[range.clone()];
        let mut page = Vec::new();
        let (mut found, mut hits) = (0u64, 0u64);
        let mut pos = 0;
        while let Some(i) = finder.find(&hay[pos..]) {
            let hit = pos + i;
            // Records end in '\n' and a needle cannot contain one, so the
            // end of this record is the end of the match's record.
            let end = hit + memchr::memchr(RECORD_END, &hay[hit..]).unwrap_or(hay.len() - hit);
            hits += 1;
            if sel.admits_at(self, range.start + hit, hay[end - 1]) {
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
        (page, found, hits)
    }

    /// An exact count over the whole buffer, split over the tuning's
    /// threads, collecting the page on the way.
    fn scan_parallel(
        &self,
        finder: &Finder<'_>,
        sel: Select<'_>,
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
        let results: Vec<(Vec<usize>, u64, u64)> = if parts == 1 {
            vec![self.scan(finder, sel, 0..self.buf.len(), page_from, limit, true)]
        } else {
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..parts)
                    .map(|p| {
                        let range = bounds[p]..bounds[p + 1];
                        scope.spawn(move || self.scan(finder, sel, range, page_from, limit, true))
                    })
                    .collect();
                let mut results =
                    vec![self.scan(finder, sel, bounds[0]..bounds[1], page_from, limit, true)];
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
        for (part_page, part_count, _) in results {
            count += part_count;
            for i in part_page {
                if page.len() <= limit {
                    page.push(i);
                }
            }
        }
        (page, count)
    }
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
