//! Making an index: from scratch ([`IndexBuilder`], [`SearchIndex::build`])
//! and by writing changes over an existing one ([`SearchIndex::apply`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rayon::slice::ParallelSliceMut;

use super::image::{Bytes, Header, Sections};
use super::{
    ByteRanks, FIELD_SEP, IndexEntry, IndexError, KindFilter, RECORD_END, SearchIndex, Tuning,
    admits, by_id, filter, flags_at, flags_byte, grams, kind_slot,
};

/// Records in sort order, before the derived sections (ranks, filter)
/// are computed and the image is assembled.
pub(super) struct Parts {
    buf: Vec<u8>,
    /// Start of each record, plus one past the last once finished.
    offsets: Vec<u32>,
    ids: Vec<i64>,
    totals: [u64; 4],
    tuning: Tuning,
}

impl Parts {
    pub(super) fn with_capacity(records: usize, bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            offsets: Vec::with_capacity(records + 1),
            ids: Vec::with_capacity(records),
            totals: [0; 4],
            tuning: Tuning::default(),
        }
    }

    /// Appends a record; records come in `(name_lower, id)` order.
    fn push(&mut self, id: i64, record: &[u8]) {
        // Lengths were checked against u32 before pushing.
        self.offsets
            .push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(record);
        self.ids.push(id);
        let flags = record[flags_at(record.len())];
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

    /// Computes the byte ranks and the block filter and assembles the
    /// image; `watermark` is when the store read it reflects began.
    pub(super) fn finish(
        mut self,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<SearchIndex, IndexError> {
        let size = self.buf.len();
        let end = u32::try_from(size).map_err(|_| IndexError::TooLarge(size))?;
        self.offsets.push(end);
        // The gram table on threads of its own while this one makes the
        // rest (the trigram filter is the longest part of it).
        let (text, offsets) = (&self.buf, &self.offsets);
        let gram_threads = self.tuning.threads;
        let (grams, ranks, (blocks, bits), by_id) = std::thread::scope(|scope| {
            let grams = scope.spawn(move || grams::build(text, offsets, gram_threads));
            let ranks = ByteRanks::of(text);
            let filter = filter::build(text, offsets);
            let by_id = by_id::build(&self.ids, |i| text[flags_at(offsets[i + 1] as usize)]);
            let grams = grams
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (grams, ranks, filter, by_id)
        });
        let sections = Sections {
            header: Header {
                records: self.ids.len(),
                watermark: watermark.map_or(i64::MIN, |w| w.timestamp_micros()),
                max_id: self.ids.iter().copied().max(),
                totals: self.totals,
                blocks,
                text_len: size,
                by_id_slots: by_id.len(),
                gram_rows: grams.rows,
                gram_shift: grams.shift,
            },
            ranks: &ranks.0,
            ids: &self.ids,
            offsets: &self.offsets,
            by_id: &by_id,
            gram_slots: &grams.slots,
            gram_counts: &grams.counts,
            gram_bits: &grams.bits,
            bits: &bits,
            text: &self.buf,
        };
        let (words, _) = sections.assemble()?;
        let tuning = self.tuning;
        drop(self);
        drop(bits);
        drop(by_id);
        drop(grams);
        Ok(SearchIndex::from_bytes(Bytes::Owned(words), tuning)?)
    }
}

/// Where one pushed record sits in the builder's unsorted buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id: i64,
    /// The name's first eight bytes, big-endian and zero-padded: sorting
    /// compares these in place first and reads the buffer only on a tie
    /// (at ten million contacts most comparisons would otherwise miss the
    /// cache).
    prefix: u64,
    start: usize,
    name_len: usize,
    len: usize,
}

/// The first eight bytes of `name` as a big-endian number, zero-padded:
/// where two differ, they order as the names' bytes do.
fn name_prefix(name: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = name.len().min(8);
    bytes[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(bytes)
}

/// Collects contacts into one unsorted buffer (no string per contact, so
/// loading a million of them does not leave the allocator fragmented),
/// then sorts them into a [`SearchIndex`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    raw: Vec<u8>,
    pending: Vec<Pending>,
}

/// Copies a field, replacing the two bytes that would break the layout.
fn push_field(buf: &mut Vec<u8>, field: &str) {
    let start = buf.len();
    buf.extend_from_slice(field.as_bytes());
    for b in &mut buf[start..] {
        if *b == RECORD_END || *b == FIELD_SEP {
            *b = super::REPLACEMENT_BYTE;
        }
    }
}

impl IndexBuilder {
    /// A builder with room for about `contacts` contacts.
    #[must_use]
    pub fn with_capacity(contacts: usize) -> Self {
        Self {
            raw: Vec::with_capacity(contacts * 48),
            pending: Vec::with_capacity(contacts),
        }
    }

    /// Adds a contact; a later push of the same id replaces an earlier one.
    pub fn push(
        &mut self,
        id: i64,
        name_lower: &str,
        email_lower: &str,
        customer: bool,
        subscriber: bool,
    ) {
        let start = self.raw.len();
        push_field(&mut self.raw, name_lower);
        let name_len = self.raw.len() - start;
        self.raw.push(FIELD_SEP);
        push_field(&mut self.raw, email_lower);
        self.raw.push(flags_byte(customer, subscriber));
        self.raw.push(RECORD_END);
        self.pending.push(Pending {
            id,
            prefix: name_prefix(&self.raw[start..start + name_len]),
            start,
            name_len,
            len: self.raw.len() - start,
        });
    }

    /// Marks as customers the contacts pushed so far for which
    /// `is_customer` holds (the loader reads the grants beside the
    /// contacts, and learns who is one last).
    pub fn mark_customers(&mut self, is_customer: impl Fn(i64) -> bool) {
        for p in &self.pending {
            if is_customer(p.id) {
                self.raw[flags_at(p.start + p.len)] |= super::FLAG_CUSTOMER;
            }
        }
    }

    /// Contacts pushed so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Sorts the records by `(name_lower, id)` into an index.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn finish(self) -> Result<SearchIndex, IndexError> {
        self.finish_at(None)
    }

    /// [`IndexBuilder::finish`], recording that the contacts were read
    /// from a load that began at `watermark`.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn finish_at(
        mut self,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<SearchIndex, IndexError> {
        // Keep the last push of each id. Loading pushes in id order, so
        // this sort finds one run and costs a single pass.
        let mut order: Vec<usize> = (0..self.pending.len()).collect();
        order.sort_by_key(|&i| self.pending[i].id);
        let mut kept: Vec<Pending> = Vec::with_capacity(self.pending.len());
        for (k, &i) in order.iter().enumerate() {
            let next_same = order
                .get(k + 1)
                .is_some_and(|&j| self.pending[j].id == self.pending[i].id);
            if !next_same {
                kept.push(self.pending[i]);
            }
        }
        drop(order);
        self.pending = Vec::new();
        let raw = &self.raw;
        let name = |p: &Pending| &raw[p.start..p.start + p.name_len];
        // On every core: at ten million contacts the longest step of the
        // build that would otherwise run on one.
        kept.par_sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| name(a).cmp(name(b)))
                .then(a.id.cmp(&b.id))
        });
        let size: usize = kept.iter().map(|p| p.len).sum();
        if u32::try_from(size).is_err() {
            return Err(IndexError::TooLarge(size));
        }
        let mut parts = Parts::with_capacity(kept.len(), size);
        for p in &kept {
            parts.push(p.id, &raw[p.start..p.start + p.len]);
        }
        drop(kept);
        self.raw = Vec::new();
        parts.finish(watermark)
    }
}

impl SearchIndex {
    /// Builds an index from entries in any order. Later entries with the
    /// same id replace earlier ones.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn build(entries: Vec<IndexEntry>) -> Result<Self, IndexError> {
        let mut builder = IndexBuilder::with_capacity(entries.len());
        for e in &entries {
            builder.push(
                e.id,
                &e.name_lower,
                &e.email_lower,
                e.customer,
                e.subscriber,
            );
        }
        drop(entries);
        builder.finish()
    }

    /// A new index with `changes` written over this one (an entry per
    /// contact added or changed) and `removed` ids dropped. `None` when
    /// nothing would differ, so the caller keeps the current index. The
    /// new index keeps this one's watermark and tuning.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn apply(
        &self,
        changes: Vec<IndexEntry>,
        removed: &[i64],
    ) -> Result<Option<Self>, IndexError> {
        self.apply_at(changes, removed, self.watermark())
    }

    /// [`SearchIndex::apply`] with a new watermark: the changes cover the
    /// store up to a poll that began at `watermark`.
    ///
    /// # Errors
    /// [`IndexError::TooLarge`] past 4 GiB of text.
    pub fn apply_at(
        &self,
        mut changes: Vec<IndexEntry>,
        removed: &[i64],
        watermark: Option<DateTime<Utc>>,
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
        for (i, id) in self.ids().iter().enumerate() {
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

        let size = self.buf().len() + changes.iter().map(|e| e.record().len()).sum::<usize>();
        if u32::try_from(size).is_err() {
            return Err(IndexError::TooLarge(size));
        }
        let mut next = Parts::with_capacity(self.len() + changes.len(), size);
        next.tuning = self.tuning;
        let ids = self.ids();
        let mut new_iter = changes.iter().peekable();
        for (i, dropped) in drop_old.iter().enumerate() {
            if *dropped {
                continue;
            }
            let name = self.name(i);
            let id = ids[i];
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
        next.finish(watermark).map(Some)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_sort_by_name_bytes_past_the_eight_byte_prefix() {
        // Ties within the first eight bytes, zero bytes, names shorter than
        // eight bytes, and equal names ordered by id.
        let names = [
            "abcdefgh\u{0}",
            "ab",
            "abcdefghi",
            "ab\u{0}",
            "abcdefgh",
            "ab\u{0}c",
            "b",
            "",
            "abcdefgh",
            "ÿ",
            "abcdefgg",
        ];
        let entries: Vec<IndexEntry> = names
            .iter()
            .zip(1..)
            .map(|(name, id)| IndexEntry {
                id,
                name_lower: (*name).to_owned(),
                email_lower: format!("{id}@x"),
                customer: false,
                subscriber: false,
            })
            .collect();
        let index = SearchIndex::build(entries.clone()).expect("small");
        let mut want: Vec<(Vec<u8>, i64)> = entries
            .iter()
            .map(|e| (e.name_lower.as_bytes().to_vec(), e.id))
            .collect();
        want.sort();
        let got: Vec<(Vec<u8>, i64)> = (0..index.len())
            .filter_map(|i| index.entry(i))
            .map(|e| (e.name_lower.into_bytes(), e.id))
            .collect();
        assert_eq!(got, want);
    }
}
