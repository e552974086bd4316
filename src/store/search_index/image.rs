//! The index's bytes: one image that is the same in memory and on disk,
//! so a process can search a file another process wrote by mapping it.
//!
//! ```text
//! header   18 x u64 (144 bytes): magic, version, byte-order mark, checksum,
//!          total length, records, watermark, highest id, totals[4],
//!          blocks, text length, by-id slots, gram rows, gram block
//!          shift, one reserved word
//! ranks    256 bytes: byte frequency ranks of the text (memmem's prefilter)
//! ids      records x i64, in (name_lower, id) order
//! offsets  (records + 1) x u32, padded to 8 bytes
//! by id    slots x u32, padded to 8 bytes: for each id from 0, where its
//!          record sits and its kind (see `by_id`); no slots when the
//!          ids are too sparse for a table
//! grams    SLOTS x u32 rows, rows x 4 x u32 counts, rows x
//!          ceil(coarse blocks / 64) x u64 bitmaps (see `grams`)
//! filter   ceil(blocks / 64) x BUCKETS x u64 (see `filter`)
//! text     the records, padded to 8 bytes
//! ```
//!
//! Integers are in the writing machine's byte order (the mark refuses a
//! file from another). The checksum is xxh3-64 over everything after it
//! (header words 4.. and every section); a file whose length, layout,
//! checksum or record boundaries do not hold is refused, never searched.

use std::ops::Range;

use zerocopy::{FromBytes, IntoBytes};

use super::filter::BUCKETS;
use super::grams;

const MAGIC: [u8; 8] = *b"KDSEARCH";
/// Bumped whenever the layout changes; an older file is rebuilt.
pub(super) const VERSION: u64 = 3;
const BYTE_ORDER: u64 = 0x0102_0304_0506_0708;
const HEADER_WORDS: usize = 18;
const HEADER_BYTES: usize = HEADER_WORDS * 8;
/// The checksum covers the bytes from here on.
const CHECKED_FROM: usize = 32;
const RANKS_BYTES: usize = 256;

/// Why an image was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not an index file, or one from another keydesk version or machine.
    #[error("not a search index of this version ({0})")]
    Format(&'static str),
    /// Shorter or longer than its header says: cut off while written or copied.
    #[error("truncated: {actual} bytes where the header says {expected}")]
    Length {
        /// What the header says.
        expected: u64,
        /// What there is.
        actual: u64,
    },
    /// The bytes changed after they were written.
    #[error("checksum mismatch")]
    Checksum,
    /// The sections do not describe records (a writer bug, or tampering).
    #[error("inconsistent sections: {0}")]
    Layout(&'static str),
}

/// What the header says, besides the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Header {
    pub(super) records: usize,
    /// When the load this index was built from began (microseconds since
    /// the epoch, by the builder's clock), or `i64::MIN` when unknown: changes
    /// at or after it (less the poll margin) are what a reader must add.
    pub(super) watermark: i64,
    pub(super) max_id: Option<i64>,
    pub(super) totals: [u64; 4],
    pub(super) blocks: usize,
    pub(super) text_len: usize,
    /// Slots of the by-id table (highest id + 1), or 0 for none.
    pub(super) by_id_slots: usize,
    /// Grams that occur (rows of the gram table).
    pub(super) gram_rows: usize,
    /// Records per coarse block of the gram table, as a power of two.
    pub(super) gram_shift: u32,
}

/// Byte ranges of the sections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Layout {
    pub(super) ranks: Range<usize>,
    pub(super) ids: Range<usize>,
    pub(super) offsets: Range<usize>,
    pub(super) by_id: Range<usize>,
    pub(super) gram_slots: Range<usize>,
    pub(super) gram_counts: Range<usize>,
    pub(super) gram_bits: Range<usize>,
    pub(super) bits: Range<usize>,
    pub(super) text: Range<usize>,
    pub(super) total: usize,
}

fn pad8(n: usize) -> Option<usize> {
    n.checked_next_multiple_of(8)
}

impl Layout {
    fn of(header: &Header) -> Option<Self> {
        let n = header.records;
        let ranks = HEADER_BYTES..HEADER_BYTES + RANKS_BYTES;
        let ids = ranks.end..ranks.end.checked_add(n.checked_mul(8)?)?;
        let offsets = ids.end..ids.end.checked_add(n.checked_add(1)?.checked_mul(4)?)?;
        let by_id_start = pad8(offsets.end)?;
        let by_id = by_id_start..by_id_start.checked_add(header.by_id_slots.checked_mul(4)?)?;
        let slots_start = pad8(by_id.end)?;
        let gram_slots = slots_start..slots_start + grams::SLOTS * 4;
        let gram_counts = gram_slots.end
            ..gram_slots
                .end
                .checked_add(header.gram_rows.checked_mul(16)?)?;
        let gram_words = header
            .gram_rows
            .checked_mul(grams::row_words(n, header.gram_shift))?;
        let gram_bits = gram_counts.end..gram_counts.end.checked_add(gram_words.checked_mul(8)?)?;
        let bits_start = gram_bits.end;
        let words = header.blocks.div_ceil(64).checked_mul(BUCKETS)?;
        let bits = bits_start..bits_start.checked_add(words.checked_mul(8)?)?;
        let text = bits.end..bits.end.checked_add(header.text_len)?;
        let total = pad8(text.end)?;
        Some(Self {
            ranks,
            ids,
            offsets,
            by_id,
            gram_slots,
            gram_counts,
            gram_bits,
            bits,
            text,
            total,
        })
    }
}

/// Where the image's bytes live.
#[derive(Debug)]
pub(super) enum Bytes {
    /// Built in this process; `u64` words so every section is aligned.
    Owned(Vec<u64>),
    /// A file mapped read-only (see the `mapped-file` crate).
    Mapped(mapped_file::MappedFile),
}

impl Bytes {
    pub(super) fn get(&self) -> &[u8] {
        match self {
            Self::Owned(words) => words.as_bytes(),
            Self::Mapped(map) => map.bytes(),
        }
    }
}

/// Typed views of a section; sections are checked for alignment and
/// length when the image is accepted, so these never come back empty
/// for a valid image.
pub(super) fn words<T: FromBytes + zerocopy::Immutable>(bytes: &[u8]) -> &[T] {
    <[T]>::ref_from_bytes(bytes).unwrap_or(&[])
}

fn header_words(header: &Header, layout: &Layout) -> [u64; HEADER_WORDS] {
    let mut words = [0u64; HEADER_WORDS];
    words[0] = u64::from_ne_bytes(MAGIC);
    words[1] = VERSION;
    words[2] = BYTE_ORDER;
    words[4] = layout.total as u64;
    words[5] = header.records as u64;
    words[6] = header.watermark.cast_unsigned();
    words[7] = header.max_id.unwrap_or(i64::MIN).cast_unsigned();
    words[8..12].copy_from_slice(&header.totals);
    words[12] = header.blocks as u64;
    words[13] = header.text_len as u64;
    words[14] = header.by_id_slots as u64;
    words[15] = header.gram_rows as u64;
    words[16] = u64::from(header.gram_shift);
    words
}

/// The sections an image is made of, before it is assembled.
pub(super) struct Sections<'a> {
    pub(super) header: Header,
    pub(super) ranks: &'a [u8; 256],
    pub(super) ids: &'a [i64],
    pub(super) offsets: &'a [u32],
    pub(super) by_id: &'a [u32],
    pub(super) gram_slots: &'a [u32],
    pub(super) gram_counts: &'a [u32],
    pub(super) gram_bits: &'a [u64],
    pub(super) bits: &'a [u64],
    pub(super) text: &'a [u8],
}

impl Sections<'_> {
    /// Assembles the image in memory.
    pub(super) fn assemble(&self) -> Result<(Vec<u64>, Layout), ImageError> {
        let layout = Layout::of(&self.header).ok_or(ImageError::Layout("too large"))?;
        if layout.bits.len() != self.bits.len() * 8
            || self.offsets.len() != self.ids.len() + 1
            || layout.by_id.len() != self.by_id.len() * 4
            || layout.gram_slots.len() != self.gram_slots.len() * 4
            || layout.gram_counts.len() != self.gram_counts.len() * 4
            || layout.gram_bits.len() != self.gram_bits.len() * 8
        {
            return Err(ImageError::Layout("section sizes disagree with the header"));
        }
        let mut words = vec![0u64; layout.total / 8];
        {
            let out = words.as_mut_bytes();
            let mut put = |range: &Range<usize>, bytes: &[u8]| {
                out[range.start..range.start + bytes.len()].copy_from_slice(bytes);
            };
            put(&layout.ranks, self.ranks);
            put(&layout.ids, self.ids.as_bytes());
            put(&layout.offsets, self.offsets.as_bytes());
            put(&layout.by_id, self.by_id.as_bytes());
            put(&layout.gram_slots, self.gram_slots.as_bytes());
            put(&layout.gram_counts, self.gram_counts.as_bytes());
            put(&layout.gram_bits, self.gram_bits.as_bytes());
            put(&layout.bits, self.bits.as_bytes());
            put(&layout.text, self.text);
        }
        seal(&mut words, &self.header, &layout);
        Ok((words, layout))
    }
}

/// Writes the header words over an assembled image, then its checksum.
fn seal(words: &mut [u64], header: &Header, layout: &Layout) {
    words[..HEADER_WORDS].copy_from_slice(&header_words(header, layout));
    words[3] = checksum(words.as_bytes());
}

/// What header word 3 holds: xxh3-64 of everything after it.
fn checksum(image: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&image[CHECKED_FROM..])
}

/// A copy of a (checked) image under another header (its watermark moved):
/// the same records, said to reflect the store from a later read.
pub(super) fn restamped(bytes: &[u8], header: &Header, layout: &Layout) -> Vec<u64> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    words.as_mut_bytes()[..bytes.len()].copy_from_slice(bytes);
    seal(&mut words, header, layout);
    words
}

/// Checks an image and reads its header: magic, version, byte order,
/// length, checksum, then that the offsets describe whole records.
pub(super) fn check(bytes: &[u8]) -> Result<(Header, Layout), ImageError> {
    if bytes.len() < HEADER_BYTES {
        return Err(ImageError::Length {
            expected: HEADER_BYTES as u64,
            actual: bytes.len() as u64,
        });
    }
    let head: &[u64] = words(&bytes[..HEADER_BYTES]);
    if head.len() != HEADER_WORDS {
        return Err(ImageError::Format("misaligned"));
    }
    if head[0] != u64::from_ne_bytes(MAGIC) {
        return Err(ImageError::Format("bad magic"));
    }
    if head[2] != BYTE_ORDER {
        return Err(ImageError::Format("other byte order"));
    }
    if head[1] != VERSION {
        return Err(ImageError::Format("other version"));
    }
    if head[4] != bytes.len() as u64 {
        return Err(ImageError::Length {
            expected: head[4],
            actual: bytes.len() as u64,
        });
    }
    // The checksum (a read of the whole file) runs beside the structural
    // checks (a read of the offsets and every record's end): launch waits
    // for the longer, not for both. They only read, so a corrupt file is
    // safe to walk; a bad checksum is what it is reported as, first.
    let (sum, structure) = rayon::join(|| checksum(bytes), || structure(bytes, head));
    if sum == head[3] {
        structure
    } else {
        Err(ImageError::Checksum)
    }
}

/// The header's fields and the layout they give, checked against the
/// image: section sizes, record boundaries, table slots.
fn structure(bytes: &[u8], head: &[u64]) -> Result<(Header, Layout), ImageError> {
    let as_usize = |w: u64| usize::try_from(w).map_err(|_| ImageError::Layout("too large"));
    let max_id = head[7].cast_signed();
    let header = Header {
        records: as_usize(head[5])?,
        watermark: head[6].cast_signed(),
        max_id: (max_id != i64::MIN).then_some(max_id),
        totals: [head[8], head[9], head[10], head[11]],
        blocks: as_usize(head[12])?,
        text_len: as_usize(head[13])?,
        by_id_slots: as_usize(head[14])?,
        gram_rows: as_usize(head[15])?,
        gram_shift: u32::try_from(head[16])
            .ok()
            .filter(|s| (grams::MIN_SHIFT..=grams::MAX_SHIFT).contains(s))
            .ok_or(ImageError::Layout("gram block size"))?,
    };
    let layout = Layout::of(&header).ok_or(ImageError::Layout("too large"))?;
    if layout.total != bytes.len() {
        return Err(ImageError::Layout("section sizes disagree with the length"));
    }
    if header.blocks != header.records.div_ceil(super::BLOCK_RECORDS) {
        return Err(ImageError::Layout("block count"));
    }
    let offsets: &[u32] = words(&bytes[layout.offsets.clone()]);
    let ids: &[i64] = words(&bytes[layout.ids.clone()]);
    if offsets.len() != header.records + 1 || ids.len() != header.records {
        return Err(ImageError::Layout("misaligned sections"));
    }
    let text = &bytes[layout.text.clone()];
    // Every record is at least separator, flags and end, and ends in '\n':
    // the search code relies on both.
    if offsets[0] != 0 || offsets[header.records] as usize != text.len() {
        return Err(ImageError::Layout("offsets do not span the text"));
    }
    for pair in offsets.windows(2) {
        let (from, to) = (pair[0] as usize, pair[1] as usize);
        if to < from + 3 || text[to - 1] != super::RECORD_END {
            return Err(ImageError::Layout("a record is malformed"));
        }
    }
    // A slot names a record or none; the search trusts its position.
    let by_id: &[u32] = words(&bytes[layout.by_id.clone()]);
    if by_id.len() != header.by_id_slots
        || by_id.iter().any(|&slot| {
            slot != super::by_id::ABSENT && super::by_id::position(slot) >= header.records
        })
    {
        return Err(ImageError::Layout(
            "the by-id table names a record that is not there",
        ));
    }
    // A slot names a row or none, and a count is answered as exact.
    let slots: &[u32] = words(&bytes[layout.gram_slots.clone()]);
    let counts: &[u32] = words(&bytes[layout.gram_counts.clone()]);
    if slots.len() != grams::SLOTS
        || slots
            .iter()
            .any(|&row| row != grams::ABSENT && row as usize >= header.gram_rows)
        || counts.iter().any(|&n| n as usize > header.records)
    {
        return Err(ImageError::Layout(
            "the gram table does not fit the records",
        ));
    }
    Ok((header, layout))
}
