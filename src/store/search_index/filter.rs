//! A trigram filter over blocks of records, so a rare needle scans a few
//! blocks instead of the whole buffer.
//!
//! Records are grouped in blocks of [`BLOCK_RECORDS`] in sort order. Every
//! three consecutive bytes of a block's text are hashed into one of
//! [`BUCKETS`] buckets, and the filter keeps, for each bucket, one bit per
//! block: "some trigram of this bucket occurs in this block". A needle of
//! three bytes or more can only occur in blocks whose bits are set for all
//! of its trigrams' buckets, so ANDing those rows gives the candidate
//! blocks. There are no false negatives; false positives only cost a scan.
//!
//! The filter is a section of the index image. At a million contacts it is 16 MiB (4096 buckets x 31,250
//! blocks, one bit each) and takes about a tenth of a second to build.

/// Records per block.
pub(super) const BLOCK_RECORDS: usize = 32;
/// Trigram buckets; a power of two.
pub(super) const BUCKETS: usize = 4096;
const BUCKET_SHIFT: u32 = 32 - BUCKETS.trailing_zeros();

fn bucket(a: u8, b: u8, c: u8) -> usize {
    let trigram = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    // Fibonacci hashing: the high bits of a multiply spread similar trigrams.
    (trigram.wrapping_mul(0x9E37_79B1) >> BUCKET_SHIFT) as usize
}

/// Builds the filter over records sorted into `text` at `offsets`:
/// bucket-major rows of `ceil(blocks / 64)` words each.
pub(super) fn build(text: &[u8], offsets: &[u32]) -> (usize, Vec<u64>) {
    let n = offsets.len().saturating_sub(1);
    let blocks = n.div_ceil(BLOCK_RECORDS);
    let words = blocks.div_ceil(64);
    let mut bits = vec![0u64; words * BUCKETS];
    let mut seen = [0u64; BUCKETS / 64];
    for block in 0..blocks {
        let from = offsets[block * BLOCK_RECORDS] as usize;
        let to = offsets[((block + 1) * BLOCK_RECORDS).min(n)] as usize;
        seen.fill(0);
        for w in text[from..to].windows(3) {
            let b = bucket(w[0], w[1], w[2]);
            seen[b / 64] |= 1 << (b % 64);
        }
        // Blocks go in order, so one word per bucket row is written for
        // 64 blocks in a row: the writes stay within a cache-sized set.
        let (word, bit) = (block / 64, 1u64 << (block % 64));
        for (i, &mask) in seen.iter().enumerate() {
            let mut mask = mask;
            while mask != 0 {
                let b = i * 64 + mask.trailing_zeros() as usize;
                bits[b * words + word] |= bit;
                mask &= mask - 1;
            }
        }
    }
    (blocks, bits)
}

/// The blocks that may hold `needle`, as a bitmap (bit `k` = block `k`);
/// `None` when the needle is too short to filter.
pub(super) fn candidates(bits: &[u64], blocks: usize, needle: &[u8]) -> Option<Vec<u64>> {
    if needle.len() < 3 || blocks == 0 {
        return None;
    }
    let words = blocks.div_ceil(64);
    let mut buckets: Vec<usize> = needle
        .windows(3)
        .map(|w| bucket(w[0], w[1], w[2]))
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    let mut out = bits[buckets[0] * words..(buckets[0] + 1) * words].to_vec();
    for &b in &buckets[1..] {
        let row = &bits[b * words..(b + 1) * words];
        for (o, r) in out.iter_mut().zip(row) {
            *o &= r;
        }
    }
    Some(out)
}

/// The set bits of a bitmap, in order, merged into runs of consecutive
/// blocks: `(first block, blocks in the run)`.
pub(super) fn runs(bitmap: &[u64]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, &word) in bitmap.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            let block = i * 64 + word.trailing_zeros() as usize;
            match runs.last_mut() {
                Some((first, len)) if *first + *len == block => *len += 1,
                _ => runs.push((block, 1)),
            }
            word &= word - 1;
        }
    }
    runs
}

/// A bitmap with every one of `blocks` blocks set: the candidates of a
/// needle the filter cannot narrow.
pub(super) fn every_block(blocks: usize) -> Vec<u64> {
    let mut bitmap = vec![u64::MAX; blocks.div_ceil(64)];
    if let Some(last) = bitmap.last_mut()
        && !blocks.is_multiple_of(64)
    {
        *last = (1u64 << (blocks % 64)) - 1;
    }
    bitmap
}
