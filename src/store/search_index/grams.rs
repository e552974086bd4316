//! Every one- and two-byte gram of the text, with its exact record counts
//! and the coarse blocks it occurs in: what a needle too short for the
//! trigram filter is answered from.
//!
//! A one- or two-byte needle (`z`, `zb`, `ø`) is what every query starts
//! with. Without this, a rare one (a few thousand records) is neither dense
//! enough to stop early nor long enough for the trigram filter, so its
//! exact count meant scanning the whole text: some 40 ms at ten million
//! contacts. Here its count is read off a table (per kind of contact) and
//! its page comes from the few blocks that hold it.
//!
//! - **slots**: one `u32` per possible gram (`a << 8 | b` for the two-byte
//!   gram `ab`, `65536 + a` for the byte `a`): the gram's row, or [`ABSENT`]
//!   when no record holds it. Grams with a control character are never
//!   looked up (a needle holds none) and get no row.
//! - **counts**: four `u32` a row: the records holding the gram, by the
//!   flags byte's two kind bits (neither, customer, subscriber, both).
//! - **bits**: a row of `ceil(blocks / 64)` words a gram, bit `k` set when
//!   coarse block `k` (records `k << shift ..`) holds it. The block size
//!   grows with the number of distinct grams, so the bitmaps stay within
//!   [`BUDGET_PER_RECORD`] bytes a record however varied the text (at ten
//!   million seeded contacts: 256 records a block, about a byte a
//!   contact).

use super::{FLAG_CUSTOMER, FLAG_SUBSCRIBER, flags_at};
use rayon::iter::{IntoParallelIterator, ParallelIterator};

/// One slot per two-byte gram, then one per byte.
pub(super) const SLOTS: usize = 65_536 + 256;
/// A slot with no row: no record holds the gram.
pub(super) const ABSENT: u32 = u32::MAX;
/// Coarse blocks are at least `1 << MIN_SHIFT` records...
pub(super) const MIN_SHIFT: u32 = 6;
/// ...and at most `1 << MAX_SHIFT`.
pub(super) const MAX_SHIFT: u32 = 24;
/// Bitmap bytes allowed a record (or [`BUDGET_FLOOR`] in all, for small
/// indexes).
const BUDGET_PER_RECORD: usize = 2;
const BUDGET_FLOOR: usize = 64 << 10;

/// The slot of a one- or two-byte needle; `None` for any other length.
pub(super) fn slot(needle: &[u8]) -> Option<usize> {
    match *needle {
        [a] => Some(65_536 + usize::from(a)),
        [a, b] => Some(usize::from(a) << 8 | usize::from(b)),
        _ => None,
    }
}

/// The count slot (0..4) of a flags byte.
pub(super) fn kind_bits(flags: u8) -> usize {
    usize::from(flags & (FLAG_CUSTOMER | FLAG_SUBSCRIBER))
}

/// Words in one gram's bitmap row.
pub(super) fn row_words(records: usize, shift: u32) -> usize {
    records.div_ceil(1 << shift).div_ceil(64)
}

/// The table, as built.
pub(super) struct Grams {
    pub(super) slots: Vec<u32>,
    pub(super) counts: Vec<u32>,
    pub(super) bits: Vec<u64>,
    pub(super) rows: usize,
    pub(super) shift: u32,
}

/// The searchable bytes of record `i` (without its flags and end) and its
/// count slot.
fn record<'t>(text: &'t [u8], offsets: &[u32], i: usize) -> (&'t [u8], usize) {
    let (from, flags) = (offsets[i] as usize, flags_at(offsets[i + 1] as usize));
    (&text[from..flags], kind_bits(text[flags]))
}

/// What one pass keeps per slot, in one cache line's reach: the last
/// record and block that held the gram (so each is counted and marked
/// once), its row in this part's bitmaps, and its counts by kind.
#[derive(Clone, Copy)]
struct Seen {
    record: u32,
    block: u32,
    row: u32,
    counts: [u32; 4],
}

/// One part's table: counts and bitmap rows (at [`MIN_SHIFT`], `words`
/// words a row) for records `records`, rows in order of first sight.
struct Part {
    seen: Vec<Seen>,
    bits: Vec<u64>,
    words: usize,
}

/// One pass over records `records` (starting on a 64-block boundary, so
/// the part owns whole words of every bitmap row).
fn scan_part(text: &[u8], offsets: &[u32], records: std::ops::Range<usize>) -> Part {
    let first_block = records.start >> MIN_SHIFT;
    let words = (records.len().div_ceil(1 << MIN_SHIFT)).div_ceil(64);
    let mut seen = vec![
        Seen {
            record: ABSENT,
            block: ABSENT,
            row: ABSENT,
            counts: [0; 4],
        };
        SLOTS
    ];
    let mut bits: Vec<u64> = Vec::new();
    let mut rows = 0u32;
    for i in records {
        let (bytes, kind) = record(text, offsets, i);
        // Record and block numbers fit u32 (offsets are u32) and never spell ABSENT.
        let mark = u32::try_from(i).unwrap_or(ABSENT - 1);
        let block = (i >> MIN_SHIFT) - first_block;
        let block_mark = u32::try_from(block).unwrap_or(ABSENT - 1);
        let mut gram = |slot: usize| {
            let s = &mut seen[slot];
            if s.record == mark {
                return;
            }
            s.record = mark;
            s.counts[kind] += 1;
            if s.block != block_mark {
                s.block = block_mark;
                if s.row == ABSENT {
                    s.row = rows;
                    rows += 1;
                    bits.resize(bits.len() + words, 0);
                }
                bits[s.row as usize * words + block / 64] |= 1 << (block % 64);
            }
        };
        let mut prev: Option<u8> = None;
        for &b in bytes {
            if b < 0x20 {
                prev = None;
                continue;
            }
            gram(65_536 + usize::from(b));
            if let Some(a) = prev {
                gram(usize::from(a) << 8 | usize::from(b));
            }
            prev = Some(b);
        }
    }
    Part { seen, bits, words }
}

/// Bits 0, 2, 4, ... of `x` packed into its low 32 bits.
fn even_bits(x: u64) -> u64 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF
}

/// Bitmap rows of `words` words at one block size, ORed pairwise into
/// rows at twice the size: block `k` there is blocks `2k` and `2k + 1`
/// here.
fn coarsen(bits: &[u64], words: usize, rows: usize) -> (Vec<u64>, usize) {
    let half = words.div_ceil(2);
    let mut out = vec![0u64; rows * half];
    for r in 0..rows {
        let row = &bits[r * words..(r + 1) * words];
        for (w, &word) in row.iter().enumerate() {
            out[r * half + w / 2] |= even_bits(word | (word >> 1)) << (32 * (w % 2));
        }
    }
    (out, half)
}

/// Builds the table over records sorted into `text` at `offsets`, in up
/// to `threads` parts on rayon's pool: one pass counts and marks blocks of 64 records;
/// blocks are then merged pairwise until the bitmaps fit the budget.
pub(super) fn build(text: &[u8], offsets: &[u32], threads: usize) -> Grams {
    let records = offsets.len().saturating_sub(1);
    let parts = if records < 1 << 16 { 1 } else { threads.max(1) };
    // Parts start on multiples of 64 blocks, so each owns whole words.
    let unit = 64 << MIN_SHIFT;
    let bounds: Vec<usize> = (0..=parts)
        .map(|p| (p * records.div_ceil(unit) / parts * unit).min(records))
        .collect();
    let scanned: Vec<Part> = (0..parts)
        .into_par_iter()
        .map(|p| scan_part(text, offsets, bounds[p]..bounds[p + 1]))
        .collect();

    let mut slots = vec![ABSENT; SLOTS];
    let mut counts = Vec::new();
    let mut rows = 0usize;
    for (s, slot) in slots.iter_mut().enumerate() {
        let mut c = [0u32; 4];
        for part in &scanned {
            for (total, n) in c.iter_mut().zip(part.seen[s].counts) {
                *total += n;
            }
        }
        if c.iter().any(|&n| n > 0) {
            *slot = u32::try_from(rows).unwrap_or(ABSENT);
            counts.extend_from_slice(&c);
            rows += 1;
        }
    }
    let mut words = row_words(records, MIN_SHIFT);
    let mut bits = vec![0u64; rows * words];
    for (p, part) in scanned.iter().enumerate() {
        let at = bounds[p] / unit;
        for (s, &row) in slots.iter().enumerate() {
            let own = part.seen[s].row;
            if row == ABSENT || own == ABSENT {
                continue;
            }
            let from = own as usize * part.words;
            let to = row as usize * words + at;
            bits[to..to + part.words].copy_from_slice(&part.bits[from..from + part.words]);
        }
    }
    drop(scanned);
    let budget = (records * BUDGET_PER_RECORD).max(BUDGET_FLOOR);
    let mut shift = MIN_SHIFT;
    while shift < MAX_SHIFT && rows * words * 8 > budget {
        (bits, words) = coarsen(&bits, words, rows);
        shift += 1;
    }
    Grams {
        slots,
        counts,
        bits,
        rows,
        shift,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(records: &[(&str, u8)]) -> (Vec<u8>, Vec<u32>) {
        let (mut text, mut offsets) = (Vec::new(), Vec::new());
        for (body, flags) in records {
            offsets.push(u32::try_from(text.len()).unwrap());
            text.extend_from_slice(body.as_bytes());
            text.push(0x10 | flags);
            text.push(b'\n');
        }
        offsets.push(u32::try_from(text.len()).unwrap());
        (text, offsets)
    }

    #[test]
    fn counts_records_once_per_gram_by_kind_and_skips_separators() {
        let (text, offsets) =
            text_of(&[("anna\u{1f}ann@x", 1), ("bob\u{1f}b@x", 2), ("ab\u{1f}", 0)]);
        let g = build(&text, &offsets, 1);
        let count = |needle: &str| {
            let row = g.slots[slot(needle.as_bytes()).unwrap()];
            if row == ABSENT {
                return [0; 4];
            }
            let r = row as usize * 4;
            [
                g.counts[r],
                g.counts[r + 1],
                g.counts[r + 2],
                g.counts[r + 3],
            ]
        };
        // "an" twice in the first record's name and once in its email: one record.
        assert_eq!(count("an"), [0, 1, 0, 0]);
        assert_eq!(count("b"), [1, 0, 1, 0]);
        assert_eq!(count("@x"), [0, 1, 1, 0]);
        // Across the field separator is not a gram.
        assert_eq!(count("a\u{1f}"), [0; 4]);
        assert_eq!(count("z"), [0; 4]);
        assert_eq!(g.shift, MIN_SHIFT);
    }

    #[test]
    fn coarsening_ors_neighbouring_blocks() {
        let rows = [
            0x8000_0000_0000_0001u64,
            0b0110,
            0,
            u64::MAX,
            0x0000_0003_0000_0000,
        ];
        // One row of five words (320 blocks) becomes three words (160).
        let (out, words) = coarsen(&rows, 5, 1);
        assert_eq!(words, 3);
        let bit = |bits: &[u64], k: usize| bits[k / 64] >> (k % 64) & 1 == 1;
        for k in 0..160 {
            assert_eq!(
                bit(&out, k),
                bit(&rows, 2 * k) || bit(&rows, 2 * k + 1),
                "block {k}"
            );
        }
    }

    #[test]
    fn threads_build_the_same_table() {
        let bodies: Vec<String> = (0..70_000)
            .map(|i| format!("n{}\u{1f}{}@{}", i * 7919 % 1000, i, i % 97))
            .collect();
        let records: Vec<(&str, u8)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), u8::try_from(i % 4).unwrap()))
            .collect();
        let (text, offsets) = text_of(&records);
        let one = build(&text, &offsets, 1);
        let three = build(&text, &offsets, 3);
        assert_eq!(one.slots, three.slots);
        assert_eq!(one.counts, three.counts);
        assert_eq!(one.bits, three.bits);
        assert_eq!(one.shift, three.shift);
    }
}
