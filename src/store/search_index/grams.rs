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
//!   million seeded contacts: 256 records a block, about 1.5 bytes a
//!   contact).

use super::{FLAG_CUSTOMER, FLAG_SUBSCRIBER};

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
    let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
    (&text[from..to - 2], kind_bits(text[to - 2]))
}

/// Calls `seen` once per distinct searchable gram of `bytes`, using
/// `last[slot] == mark` to tell a gram already seen under this mark.
fn each_gram(bytes: &[u8], last: &mut [u32], mark: u32, mut seen: impl FnMut(usize)) {
    let mut prev: Option<u8> = None;
    for &b in bytes {
        if b < 0x20 {
            prev = None;
            continue;
        }
        let one = 65_536 + usize::from(b);
        if last[one] != mark {
            last[one] = mark;
            seen(one);
        }
        if let Some(a) = prev {
            let two = usize::from(a) << 8 | usize::from(b);
            if last[two] != mark {
                last[two] = mark;
                seen(two);
            }
        }
        prev = Some(b);
    }
}

/// Record counts per slot over records `range`: four per slot.
fn count(text: &[u8], offsets: &[u32], range: std::ops::Range<usize>) -> Vec<u32> {
    let mut counts = vec![0u32; SLOTS * 4];
    let mut last = vec![ABSENT; SLOTS];
    for i in range {
        let (bytes, kind) = record(text, offsets, i);
        // Record numbers fit u32 (offsets are u32) and never spell ABSENT.
        let mark = u32::try_from(i).unwrap_or(ABSENT - 1);
        each_gram(bytes, &mut last, mark, |s| counts[s * 4 + kind] += 1);
    }
    counts
}

/// Bitmap rows for coarse blocks `blocks` (a multiple of 64 from the
/// start, so each part owns whole words): `words` words a row.
fn mark_blocks(
    text: &[u8],
    offsets: &[u32],
    slots: &[u32],
    shift: u32,
    blocks: std::ops::Range<usize>,
    rows: usize,
) -> Vec<u64> {
    let records = offsets.len() - 1;
    let words = blocks.len().div_ceil(64);
    let mut bits = vec![0u64; rows * words];
    let mut last = vec![ABSENT; SLOTS];
    for block in blocks.clone() {
        let (word, bit) = ((block - blocks.start) / 64, 1u64 << (block % 64));
        let mark = u32::try_from(block).unwrap_or(ABSENT - 1);
        let from = (block << shift).min(records);
        let to = ((block + 1) << shift).min(records);
        for i in from..to {
            let (bytes, _) = record(text, offsets, i);
            each_gram(bytes, &mut last, mark, |s| {
                bits[slots[s] as usize * words + word] |= bit;
            });
        }
    }
    bits
}

/// Builds the table over records sorted into `text` at `offsets`, on up
/// to `threads` threads.
pub(super) fn build(text: &[u8], offsets: &[u32], threads: usize) -> Grams {
    let records = offsets.len().saturating_sub(1);
    let parts = if records < 1 << 16 { 1 } else { threads.max(1) };
    let bounds: Vec<usize> = (0..=parts).map(|p| p * records / parts).collect();
    let partial: Vec<Vec<u32>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..parts)
            .map(|p| {
                let range = bounds[p]..bounds[p + 1];
                scope.spawn(move || count(text, offsets, range))
            })
            .collect();
        let mut all = vec![count(text, offsets, bounds[0]..bounds[1])];
        for helper in helpers {
            all.push(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        all
    });
    let mut counts_by_slot = vec![0u32; SLOTS * 4];
    for part in &partial {
        for (total, n) in counts_by_slot.iter_mut().zip(part) {
            *total += n;
        }
    }
    drop(partial);

    let mut slots = vec![ABSENT; SLOTS];
    let mut counts = Vec::new();
    let mut rows = 0usize;
    for (s, slot) in slots.iter_mut().enumerate() {
        let c = &counts_by_slot[s * 4..s * 4 + 4];
        if c.iter().any(|&n| n > 0) {
            *slot = u32::try_from(rows).unwrap_or(ABSENT);
            counts.extend_from_slice(c);
            rows += 1;
        }
    }
    let budget = (records * BUDGET_PER_RECORD).max(BUDGET_FLOOR);
    let shift = (MIN_SHIFT..MAX_SHIFT)
        .find(|&s| rows * row_words(records, s) * 8 <= budget)
        .unwrap_or(MAX_SHIFT);
    let blocks = records.div_ceil(1 << shift);
    let words = blocks.div_ceil(64);
    // Parts own whole words: split at multiples of 64 blocks.
    let parts = parts.min(words.max(1));
    let word_bounds: Vec<usize> = (0..=parts).map(|p| p * words / parts).collect();
    let block_range =
        |p: usize| (word_bounds[p] * 64).min(blocks)..(word_bounds[p + 1] * 64).min(blocks);
    let slots_ref = &slots;
    let pieces: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..parts)
            .map(|p| {
                let range = block_range(p);
                scope.spawn(move || mark_blocks(text, offsets, slots_ref, shift, range, rows))
            })
            .collect();
        let mut all = vec![mark_blocks(
            text,
            offsets,
            slots_ref,
            shift,
            block_range(0),
            rows,
        )];
        for helper in helpers {
            all.push(
                helper
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            );
        }
        all
    });
    let mut bits = vec![0u64; rows * words];
    for (p, piece) in pieces.iter().enumerate() {
        let width = word_bounds[p + 1] - word_bounds[p];
        if width == 0 {
            continue;
        }
        for (r, row) in piece.chunks_exact(width).enumerate() {
            let at = r * words + word_bounds[p];
            bits[at..at + width].copy_from_slice(row);
        }
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
    fn threads_build_the_same_table() {
        let bodies: Vec<String> = (0..70_000)
            .map(|i| format!("n{}\u{1f}{}@{}", i * 7919 % 1000, i, i % 97))
            .collect();
        let records: Vec<(&str, u8)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), (i % 4) as u8))
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
