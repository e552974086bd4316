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
//! Searching is a scan of the records (memmem's SIMD prefilter looks for
//! the needle's two rarest bytes, ranked by this buffer's own byte
//! frequencies), split over the available cores; the page is collected
//! and every match counted on the way.
//!
//! Two tables keep most queries off a full scan. A needle of one or two
//! bytes, what every query starts as, is counted exactly from the gram
//! table ([`grams`]: each gram's records by kind) and its page comes from
//! the coarse blocks that hold it. A needle of three bytes or more scans
//! only the blocks the trigram filter ([`filter`]) lets through (all of
//! them when they are over a quarter).
//!
//! Counting every hit is the slow part of a needle that hits many
//! records, and so is scanning a large set of candidate blocks. When a
//! sample of the candidate blocks shows the needle is dense (it would hit
//! more than [`Tuning::estimate_above`] contacts), or shows enough hits to
//! project sharply while the exact count would scan more than
//! [`Tuning::estimate_scans_above`] records, the count becomes
//! [`MatchCount::Estimate`] projected from the sample (three significant
//! digits), and the scan stops once the page is full.
//!
//! All of it (records, ids, offsets, the gram table, the block filter) is one byte image
//! ([`image`]) that is the same in memory and in the index file, so the
//! searcher can map a file another process wrote instead of building its
//! own copy. The index is immutable; changes since it was built sit in a
//! small [`LiveIndex`] delta beside it, and folding them in makes a new one
//! ([`SearchIndex::apply`]).

mod build;
mod by_id;
mod filter;
mod grams;
mod image;
mod live;

use memchr::arch::all::packedpair::HeuristicFrequencyRank;
use memchr::memmem::{Finder, FinderBuilder};
use rayon::iter::{IntoParallelRefIterator, ParallelIterator};

pub use build::IndexBuilder;
use filter::BLOCK_RECORDS;
pub use image::ImageError;
use image::{Bytes, Header, Layout, words};
pub use live::{LiveIndex, RowFilter};

use super::contacts::{Cursor, KindFilter, MatchCount};

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

/// Where the flags byte of a record ending at `end` (one past its
/// `RECORD_END`) sits: every record ends in `FLAGS '\n'`.
const fn flags_at(end: usize) -> usize {
    end - 2
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
    /// An index image (a file) was refused.
    #[error("the search index file is unusable: {0}")]
    Image(#[from] ImageError),
}

/// Knobs for the count, exposed so tests and benchmarks can move them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Above this many projected matches the count is an estimate.
    pub estimate_above: u64,
    /// An exact count that would scan more than this many records (the
    /// needle's candidate blocks) is an estimate too, when its sample is
    /// sharp: it saw at least [`SHARP_SAMPLE_HITS`] hits.
    pub estimate_scans_above: u64,
    /// Below this many records there is no sampling and no extra thread:
    /// a scan is cheaper than either.
    pub small: usize,
    /// Parts an exact count over many blocks is split into (rayon's pool
    /// runs them).
    pub threads: usize,
    /// A filter's set is visited id by id instead of scanning the records
    /// when it holds at most one record in this many (always when there
    /// is no needle; never when 0). See `by_id`.
    pub walk_sets: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            // Counting costs some 30 ns a hit on one core: 50k hits split
            // over two cores add under a millisecond to the scan itself.
            estimate_above: 50_000,
            // Some 1 ms a hundred thousand records on two cores: past this,
            // an exact count costs more than a keystroke should wait.
            estimate_scans_above: 200_000,
            small: 50_000,
            threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZero::get)
                .clamp(1, 4),
            // A walked id with a needle costs one record read (~100 ns, a
            // cache miss); a scan about 1.5 ns a record: one in 64 keeps
            // the walk well under the scan it replaces.
            walk_sets: 64,
        }
    }
}

/// Blocks sampled to decide whether a needle is dense: about this many
/// of its candidate blocks, every so many in order (evenly spread, since
/// equal and similar names sit together in sort order). Sampling only
/// where the needle can be makes the projection sharper than a sample of
/// every record, and a needle that turns out not to be dense has paid
/// little for it: a thousand blocks scan in a fraction of a millisecond.
const SAMPLE_BLOCKS: usize = 1024;
/// ...but at most one candidate block in this many, so that a sample is
/// a sample and not the whole count.
const SAMPLE_STRIDE_MIN: usize = 8;
/// A sample that saw this many hits projects within a few percent (the
/// estimate shows three significant digits).
const SHARP_SAMPLE_HITS: u64 = 1000;

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

/// The index itself; immutable once built. Cheap to clone: clones share
/// the image.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    bytes: std::sync::Arc<Bytes>,
    header: Header,
    layout: Layout,
    tuning: Tuning,
    /// How common each byte is in the text, for memmem's prefilter.
    ranks: ByteRanks,
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
        // An empty index is a few hundred bytes and cannot be too large.
        build::Parts::with_capacity(0, 0)
            .finish(None)
            .unwrap_or_else(|_| unreachable!("an empty index always fits"))
    }
}

impl SearchIndex {
    /// An index over an image, after checking it (see [`image`]).
    fn from_bytes(bytes: Bytes, tuning: Tuning) -> Result<Self, ImageError> {
        let (header, layout) = image::check(bytes.get())?;
        let mut ranks = [0u8; 256];
        ranks.copy_from_slice(&bytes.get()[layout.ranks.clone()]);
        Ok(Self {
            bytes: std::sync::Arc::new(bytes),
            header,
            layout,
            tuning,
            ranks: ByteRanks(ranks),
        })
    }

    /// Maps an index file read-only and checks it: its length, its
    /// checksum, its layout. A file that fails any check is refused.
    ///
    /// # Errors
    /// [`IndexError::Image`] for a file that is not a whole, valid index
    /// (the caller rebuilds it); the I/O error when it cannot be mapped.
    pub fn open(path: &std::path::Path) -> Result<Result<Self, IndexError>, std::io::Error> {
        let map = mapped_file::MappedFile::open(path)?;
        Ok(Self::from_bytes(Bytes::Mapped(map), Tuning::default()).map_err(IndexError::from))
    }

    /// The image's bytes: what an index file holds.
    #[must_use]
    pub fn image(&self) -> &[u8] {
        self.bytes.get()
    }

    /// Which file this index was mapped from, if it was.
    #[must_use]
    pub fn file_id(&self) -> Option<mapped_file::FileId> {
        match self.bytes.as_ref() {
            Bytes::Mapped(map) => Some(map.id()),
            Bytes::Owned(_) => None,
        }
    }

    /// When the store read this index was built from began (see
    /// [`image`]): changes from about then on are not in it.
    #[must_use]
    pub fn watermark(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        (self.header.watermark != i64::MIN)
            .then(|| chrono::DateTime::from_timestamp_micros(self.header.watermark))
            .flatten()
    }

    /// The same index with other tuning.
    #[must_use]
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// The same records with another watermark: what a process writes
    /// after checking, at `watermark`, that the store has nothing newer,
    /// so that the next process need not read the same rows again.
    ///
    /// # Errors
    /// Never for an index that was accepted; [`IndexError::Image`] otherwise.
    pub fn restamped(
        &self,
        watermark: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Self, IndexError> {
        let header = Header {
            watermark: watermark.map_or(i64::MIN, |w| w.timestamp_micros()),
            ..self.header
        };
        let words = image::restamped(self.bytes.get(), &header, &self.layout);
        Ok(Self::from_bytes(Bytes::Owned(words), self.tuning)?)
    }

    /// The tuning in use.
    #[must_use]
    pub fn tuning(&self) -> Tuning {
        self.tuning
    }

    fn buf(&self) -> &[u8] {
        &self.bytes.get()[self.layout.text.clone()]
    }

    fn offsets(&self) -> &[u32] {
        words(&self.bytes.get()[self.layout.offsets.clone()])
    }

    fn ids(&self) -> &[i64] {
        words(&self.bytes.get()[self.layout.ids.clone()])
    }

    /// A searcher for `needle` whose prefilter knows this text's byte
    /// frequencies (see [`ByteRanks`]).
    fn finder<'n>(&self, needle: &'n [u8]) -> Finder<'n> {
        FinderBuilder::new().build_forward_with_ranker(&self.ranks, needle)
    }

    fn by_id(&self) -> &[u32] {
        words(&self.bytes.get()[self.layout.by_id.clone()])
    }

    fn filter_bits(&self) -> &[u64] {
        words(&self.bytes.get()[self.layout.bits.clone()])
    }

    fn gram_slots(&self) -> &[u32] {
        words(&self.bytes.get()[self.layout.gram_slots.clone()])
    }

    fn gram_counts(&self) -> &[u32] {
        words(&self.bytes.get()[self.layout.gram_counts.clone()])
    }

    fn gram_bits(&self) -> &[u64] {
        words(&self.bytes.get()[self.layout.gram_bits.clone()])
    }

    /// The gram table's row of a one- or two-byte gram; `None` when no
    /// record holds it.
    fn gram_row(&self, gram: &[u8]) -> Option<usize> {
        let slot = grams::slot(gram)?;
        self.gram_slots()
            .get(slot)
            .filter(|&&row| row != grams::ABSENT)
            .map(|&row| row as usize)
    }

    /// The coarse blocks that hold the gram of `row`, as a bitmap.
    fn gram_blocks(&self, row: usize) -> &[u64] {
        let words = grams::row_words(self.len(), self.header.gram_shift);
        &self.gram_bits()[row * words..(row + 1) * words]
    }

    /// The bytes of `count` blocks from `first`.
    fn block_range(&self, first: usize, count: usize) -> std::ops::Range<usize> {
        let n = self.len();
        let from = (first * BLOCK_RECORDS).min(n);
        let to = ((first + count) * BLOCK_RECORDS).min(n);
        let offsets = self.offsets();
        offsets[from] as usize..offsets[to] as usize
    }

    /// Contacts held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.header.records
    }

    /// Whether it holds no contact.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.header.records == 0
    }

    /// Contacts admitted by a kind filter.
    #[must_use]
    pub fn total(&self, kind: KindFilter) -> u64 {
        self.header.totals[kind_slot(kind)]
    }

    /// The highest contact id held.
    #[must_use]
    pub fn max_id(&self) -> Option<i64> {
        self.header.max_id
    }

    /// Heap bytes this process holds for the index: the image when it was
    /// built here; nothing when it is a mapped file, whose pages are the
    /// kernel's page cache, shared by every process that maps it.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        match self.bytes.as_ref() {
            Bytes::Owned(words) => words.capacity() * 8,
            Bytes::Mapped(_) => 0,
        }
    }

    /// Bytes of the image (the size of the index file).
    #[must_use]
    pub fn image_bytes(&self) -> usize {
        self.layout.total
    }

    /// Whether a (trimmed, lowercased) needle can be searched here: it
    /// must hold no control character, so that it cannot match across a
    /// separator.
    #[must_use]
    pub fn supports(needle: &str) -> bool {
        !needle.bytes().any(|b| b < 0x20)
    }

    fn record(&self, i: usize) -> &[u8] {
        let offsets = self.offsets();
        &self.buf()[offsets[i] as usize..offsets[i + 1] as usize]
    }

    fn name(&self, i: usize) -> &[u8] {
        let record = self.record(i);
        let end = memchr::memchr(FIELD_SEP, record).unwrap_or(record.len());
        &record[..end]
    }

    fn flags(&self, i: usize) -> u8 {
        self.buf()[flags_at(self.offsets()[i + 1] as usize)]
    }

    /// The entry at position `i` in sort order (tests and diagnostics).
    #[must_use]
    pub fn entry(&self, i: usize) -> Option<IndexEntry> {
        let id = *self.ids().get(i)?;
        let record = self.record(i);
        let sep = memchr::memchr(FIELD_SEP, record)?;
        let flags_pos = flags_at(record.len());
        let flags = record[flags_pos];
        Some(IndexEntry {
            id,
            name_lower: String::from_utf8_lossy(&record[..sep]).into_owned(),
            email_lower: String::from_utf8_lossy(&record[sep + 1..flags_pos]).into_owned(),
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
                std::cmp::Ordering::Equal => self.ids()[mid] > after.id,
            };
            if past {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The record holding byte `pos`, at or after record `from` (which
    /// starts at or before `pos`).
    fn record_at(&self, from: usize, pos: usize) -> usize {
        let offsets = self.offsets();
        // Hits come in order and mostly close together: gallop from
        // `from` to bracket `pos`, then search only the bracket.
        let (mut lo, mut step) = (from, 1);
        while lo + step < offsets.len() && offsets[lo + step] as usize <= pos {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step).min(offsets.len());
        lo + offsets[lo..hi].partition_point(|&o| o as usize <= pos) - 1
    }

    fn cursor(&self, i: usize) -> Cursor {
        Cursor {
            name_lower: String::from_utf8_lossy(self.name(i)).into_owned(),
            id: self.ids()[i],
        }
    }

    /// `(name, id)` of record `i`: the sort key.
    fn key(&self, i: usize) -> (&[u8], i64) {
        (self.name(i), self.ids()[i])
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
        self.search_with(needle, kind, after, limit, &RowFilter::default())
    }

    /// [`SearchIndex::search`] over only the rows `rows` keeps.
    #[must_use]
    pub fn search_with(
        &self,
        needle: &str,
        kind: KindFilter,
        after: Option<&Cursor>,
        limit: usize,
        rows: &RowFilter<'_>,
    ) -> Option<IndexHits> {
        let limit = limit.max(1);
        let (page, total) = self.find_page(needle, kind, after, limit, rows)?;
        Some(self.hits(page, total, limit))
    }

    /// The page as record positions (up to `limit + 1`, the extra one
    /// telling that there is a next page) and the count.
    fn find_page(
        &self,
        needle: &str,
        kind: KindFilter,
        after: Option<&Cursor>,
        limit: usize,
        rows: &RowFilter<'_>,
    ) -> Option<(Vec<usize>, MatchCount)> {
        if !Self::supports(needle) {
            return None;
        }
        let start = self.start_after(after);
        if let Some(found) = self.walk_set(needle.as_bytes(), kind, start, limit, rows) {
            return Some(found);
        }
        Some(if needle.is_empty() {
            let ids = self.ids();
            let page = (start..self.len())
                .filter(|&i| admits(kind, self.flags(i)) && rows.keeps(ids[i]))
                .take(limit + 1)
                .collect();
            (page, MatchCount::Exact(self.total_with(kind, rows)))
        } else {
            self.find(needle.as_bytes(), kind, start, limit, after.is_none(), rows)
        })
    }

    /// Contacts a kind filter and a row filter admit.
    fn total_with(&self, kind: KindFilter, rows: &RowFilter<'_>) -> u64 {
        if rows.only.is_some() {
            let ids = self.ids();
            return (0..self.len())
                .filter(|&i| admits(kind, self.flags(i)) && rows.keeps(ids[i]))
                .count() as u64;
        }
        let hidden = rows.hidden.map_or(0, |hidden| {
            hidden
                .values()
                .filter(|&&i| admits(kind, self.flags(i)))
                .count() as u64
        });
        self.total(kind).saturating_sub(hidden)
    }

    fn hits(&self, mut page: Vec<usize>, total: MatchCount, limit: usize) -> IndexHits {
        let next = (page.len() > limit).then(|| self.cursor(page[limit - 1]));
        page.truncate(limit);
        let ids = self.ids();
        IndexHits {
            ids: page.iter().map(|&i| ids[i]).collect(),
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
        rows: &RowFilter<'_>,
    ) -> (Vec<usize>, MatchCount) {
        let finder = self.finder(needle);
        let scan = Scan {
            finder: &finder,
            kind,
            rows,
            limit,
        };
        if let Some(found) = self.find_short(needle, start, &scan) {
            return found;
        }
        let start_byte = self.offsets()[start] as usize;
        // The trigram filter bounds the hits from above: when its candidate
        // blocks hold few enough records, count them exactly straight away.
        // Its buckets are shared by many trigrams at ten million contacts;
        // the gram table's exact two-byte grams narrow it further.
        let mut candidates = filter::candidates(self.filter_bits(), self.header.blocks, needle);
        if let Some(fine) = &mut candidates {
            self.narrow_by_grams(fine, needle);
        }
        let all_blocks;
        let (bitmap, covered) = if let Some(bitmap) = &candidates {
            (bitmap, bitmap.iter().map(|w| w.count_ones() as usize).sum())
        } else {
            all_blocks = filter::every_block(self.header.blocks);
            (&all_blocks, self.header.blocks)
        };
        let runs = filter::runs(bitmap);
        let covered_records = (covered * BLOCK_RECORDS) as u64;
        let costly = covered_records > self.tuning.estimate_scans_above;
        // Candidates that cannot hold a dense needle and are cheap to scan:
        // counted exactly straight away.
        if candidates.is_some() && covered_records <= self.tuning.estimate_above && !costly {
            return self.count_blocks(&runs, &scan, start_byte);
        }
        // Counting costs by the records the needle hits, whether or not the
        // kind filter then admits them; so density is judged on hits.
        let estimate = if self.len() >= self.tuning.small {
            self.sample(bitmap, covered, &scan).filter(|sample| {
                sample.hits > self.tuning.estimate_above
                    || (costly && sample.seen_hits >= SHARP_SAMPLE_HITS)
            })
        } else {
            None
        };
        if let Some(Sample {
            admitted: projected,
            ..
        }) = estimate
        {
            let (page, _) = self.scan_runs(&runs, &scan, start_byte, false);
            let total = if first_page && page.len() <= limit {
                // The whole result fits the page: the sample misjudged.
                MatchCount::Exact(page.len() as u64)
            } else {
                MatchCount::Estimate(round_significant(projected, 3))
            };
            return (page, total);
        }
        if covered * 4 <= self.header.blocks {
            return self.count_blocks(&runs, &scan, start_byte);
        }
        // Past a quarter of the blocks, scanning everything in long runs
        // is as quick as picking out the candidates.
        self.count_blocks(&[(0, self.header.blocks)], &scan, start_byte)
    }

    /// Clears the trigram filter's candidate blocks (of [`BLOCK_RECORDS`])
    /// whose coarse block lacks one of the needle's two-byte grams.
    fn narrow_by_grams(&self, fine: &mut [u64], needle: &[u8]) {
        let words = grams::row_words(self.len(), self.header.gram_shift);
        let mut coarse = vec![u64::MAX; words];
        for pair in needle.windows(2) {
            // A gram no record holds: no candidate at all.
            let Some(row) = self.gram_row(pair) else {
                fine.fill(0);
                return;
            };
            for (c, b) in coarse.iter_mut().zip(self.gram_blocks(row)) {
                *c &= b;
            }
        }
        // Fine block k holds records from k * BLOCK_RECORDS: coarse block
        // k >> step (a coarse block is at least two fine ones).
        let step = self.header.gram_shift - BLOCK_RECORDS.trailing_zeros();
        for (w, word) in fine.iter_mut().enumerate() {
            let (mut bits, mut keep) = (*word, 0u64);
            while bits != 0 {
                let b = bits.trailing_zeros();
                let c = (w * 64 + b as usize) >> step;
                if coarse[c / 64] >> (c % 64) & 1 == 1 {
                    keep |= 1 << b;
                }
                bits &= bits - 1;
            }
            *word = keep;
        }
    }

    /// A one- or two-byte needle, from the gram table (see [`grams`]): the
    /// count read off it, the page from the coarse blocks that hold the
    /// needle. `None` for longer needles and for a filter's set of rows
    /// (which the table cannot count).
    fn find_short(
        &self,
        needle: &[u8],
        start: usize,
        scan: &Scan<'_, '_>,
    ) -> Option<(Vec<usize>, MatchCount)> {
        if grams::slot(needle).is_none() || scan.rows.only.is_some() {
            return None;
        }
        let Some(row) = self.gram_row(needle) else {
            return Some((Vec::new(), MatchCount::Exact(0)));
        };
        let counts = &self.gram_counts()[row * 4..row * 4 + 4];
        let held: u64 = (0u8..4)
            .filter(|&k| admits(scan.kind, FLAG_BASE | k))
            .map(|k| u64::from(counts[usize::from(k)]))
            .sum();
        // Rows the delta replaced still sit in these counts.
        let hidden = scan.rows.hidden.map_or(0, |hidden| {
            hidden
                .values()
                .filter(|&&i| {
                    admits(scan.kind, self.flags(i)) && scan.finder.find(self.record(i)).is_some()
                })
                .count() as u64
        });
        let total = held.saturating_sub(hidden);
        let mut page = Vec::with_capacity(scan.limit + 1);
        if total == 0 {
            return Some((page, MatchCount::Exact(0)));
        }
        let (n, shift) = (self.len(), self.header.gram_shift);
        let offsets = self.offsets();
        let start_byte = offsets[start] as usize;
        for (first, len) in filter::runs(self.gram_blocks(row)) {
            let to = ((first + len) << shift).min(n);
            if to <= start {
                continue;
            }
            // Full, or (on the first page) every match found.
            if page.len() > scan.limit || (start == 0 && page.len() as u64 >= total) {
                break;
            }
            let from = (first << shift).clamp(start, n);
            let rest = Scan {
                limit: scan.limit - page.len(),
                ..*scan
            };
            let range = offsets[from] as usize..offsets[to] as usize;
            let (found, ..) = self.scan(&rest, range, start_byte, false);
            page.extend(found);
        }
        Some((page, MatchCount::Exact(total)))
    }

    /// An exact count over the blocks of `runs` (first block, blocks in
    /// the run, in order), collecting the page on the way; split over the
    /// tuning's parts when they hold enough records to be worth it.
    fn count_blocks(
        &self,
        runs: &[(usize, usize)],
        scan: &Scan<'_, '_>,
        page_from: usize,
    ) -> (Vec<usize>, MatchCount) {
        let blocks: usize = runs.iter().map(|&(_, len)| len).sum();
        let parts = if blocks * BLOCK_RECORDS < self.tuning.small {
            1
        } else {
            self.tuning.threads.clamp(1, blocks.max(1))
        };
        let split = split_runs(runs, parts);
        let results: Vec<(Vec<usize>, u64)> = if let [only] = split.as_slice() {
            vec![self.scan_runs(only, scan, page_from, true)]
        } else {
            split
                .par_iter()
                .map(|part| self.scan_runs(part, scan, page_from, true))
                .collect()
        };
        let mut page = Vec::with_capacity(scan.limit + 1);
        let mut count = 0;
        for (part_page, part_count) in results {
            count += part_count;
            page.extend(
                part_page
                    .into_iter()
                    .take((scan.limit + 1).saturating_sub(page.len())),
            );
        }
        (page, MatchCount::Exact(count))
    }

    /// Scans the blocks of `runs` in order: the matches (up to `limit + 1`
    /// from `page_from`) and how many the filters admit. Without `count`
    /// it stops once the page is full.
    fn scan_runs(
        &self,
        runs: &[(usize, usize)],
        scan: &Scan<'_, '_>,
        page_from: usize,
        count: bool,
    ) -> (Vec<usize>, u64) {
        let mut page = Vec::with_capacity(scan.limit + 1);
        let mut matches = 0;
        for &(first, len) in runs {
            let full = page.len() > scan.limit;
            if full && !count {
                break;
            }
            // Once the page is full, later blocks are only counted.
            let from = if full { usize::MAX } else { page_from };
            let rest = Scan {
                limit: scan.limit - page.len().min(scan.limit),
                ..*scan
            };
            let mut range = self.block_range(first, len);
            if !count {
                // Only the page is wanted: nothing before it need be read.
                if range.end <= page_from {
                    continue;
                }
                range.start = range.start.max(page_from);
            }
            let (found, found_matches, _) = self.scan(&rest, range, from, count);
            matches += found_matches;
            page.extend(
                found
                    .into_iter()
                    .take((scan.limit + 1).saturating_sub(page.len())),
            );
        }
        (page, matches)
    }

    /// Projects, from a sample of the needle's candidate blocks (`covered`
    /// of them, set in `candidates`), how many records the needle hits, and
    /// how many of those the filters admit.
    fn sample(&self, candidates: &[u64], covered: usize, scan: &Scan<'_, '_>) -> Option<Sample> {
        let stride = covered.div_ceil(SAMPLE_BLOCKS).max(SAMPLE_STRIDE_MIN);
        let sampling = Scan { limit: 0, ..*scan };
        let (mut hits, mut admitted, mut seen) = (0u64, 0u64, 0usize);
        let mut k = 0usize;
        for (w, &word) in candidates.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let block = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // The middle of each stride, not its edge.
                if k % stride == stride / 2 {
                    let range = self.block_range(block, 1);
                    let (_, yes, all) = self.scan(&sampling, range, usize::MAX, true);
                    admitted += yes;
                    hits += all;
                    seen += self.block_records(block);
                }
                k += 1;
            }
        }
        if seen == 0 {
            return None;
        }
        // Every candidate block is whole but perhaps the last of all.
        let last = self.header.blocks.saturating_sub(1);
        let short = if candidates
            .get(last / 64)
            .is_some_and(|w| w >> (last % 64) & 1 == 1)
        {
            BLOCK_RECORDS - self.block_records(last)
        } else {
            0
        };
        let records = (covered * BLOCK_RECORDS - short) as u64;
        let project = |k: u64| k * records / seen as u64;
        Some(Sample {
            hits: project(hits),
            admitted: project(admitted),
            seen_hits: hits,
        })
    }

    /// Records in block `block`: [`BLOCK_RECORDS`], but fewer in the last.
    fn block_records(&self, block: usize) -> usize {
        let n = self.len();
        ((block + 1) * BLOCK_RECORDS).min(n) - (block * BLOCK_RECORDS).min(n)
    }

    /// Scans `range` (whole records): counts the records the needle hits
    /// and, of those, the ones the filters admit (the matches), and
    /// collects up to `limit + 1` matches that start at or after
    /// `page_from`. Without `count` it stops once the page is full.
    fn scan(
        &self,
        scan: &Scan<'_, '_>,
        range: std::ops::Range<usize>,
        page_from: usize,
        count: bool,
    ) -> (Vec<usize>, u64, u64) {
        let hay = &self.buf()[range.clone()];
        let ids = self.ids();
        let mut page = Vec::new();
        let (mut found, mut hits) = (0u64, 0u64);
        // Hits come in order, so each record lookup starts from the last.
        let mut record = 0;
        let mut pos = 0;
        while let Some(i) = scan.finder.find(&hay[pos..]) {
            let hit = pos + i;
            // Records end in '\n' and a needle cannot contain one, so the
            // end of this record is the end of the match's record.
            let end = hit + memchr::memchr(RECORD_END, &hay[hit..]).unwrap_or(hay.len() - hit);
            hits += 1;
            let at = range.start + hit;
            let collect = at >= page_from && page.len() <= scan.limit;
            if admits(scan.kind, hay[end - 1]) {
                let kept = if scan.rows.is_everything() {
                    true
                } else {
                    record = self.record_at(record, at);
                    scan.rows.keeps(ids[record])
                };
                if kept {
                    found += 1;
                    if collect {
                        record = self.record_at(record, at);
                        page.push(record);
                        if !count && page.len() > scan.limit {
                            break;
                        }
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
}

/// What a sample projects (see [`SearchIndex::sample`]).
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Records the needle hits.
    hits: u64,
    /// Of those, the ones the filters admit.
    admitted: u64,
    /// Hits the sample itself saw: how sharp the projection is.
    seen_hits: u64,
}

/// What one search scans for.
#[derive(Clone, Copy)]
struct Scan<'f, 'r> {
    finder: &'f Finder<'f>,
    kind: KindFilter,
    rows: &'r RowFilter<'r>,
    limit: usize,
}

/// Splits runs of blocks (in order) into up to `parts` parts of about as
/// many blocks each, cutting a run where a part ends.
fn split_runs(runs: &[(usize, usize)], parts: usize) -> Vec<Vec<(usize, usize)>> {
    let total: usize = runs.iter().map(|&(_, len)| len).sum();
    let per_part = total.div_ceil(parts.max(1)).max(1);
    let mut out = vec![Vec::new()];
    let mut room = per_part;
    for &(mut first, mut len) in runs {
        while len > 0 {
            if room == 0 {
                out.push(Vec::new());
                room = per_part;
            }
            let take = len.min(room);
            if let Some(part) = out.last_mut() {
                part.push((first, take));
            }
            first += take;
            len -= take;
            room -= take;
        }
    }
    out.retain(|part| !part.is_empty());
    out
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
