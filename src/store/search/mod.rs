//! Contact search as the console and the CLI call it: [`Searcher::search`].
//!
//! It answers from the in-memory [`SearchIndex`] when one is loaded and
//! from SQL (`contacts::search_sql`) otherwise, so the first frame never
//! waits for the index. The page's rows are always read from the store by
//! primary key, so what is shown is current even when the index is a few
//! seconds behind.
//!
//! # Keeping the index in step
//!
//! [`Searcher::start`] loads the index in the background, then polls every
//! `search.refresh_interval` for contacts whose `updated_at` is at or after
//! the previous poll minus [`CHANGE_MARGIN`] (the margin covers commit
//! delays and small clock differences between hosts), and writes them over
//! the index: a new index is built off the async threads and swapped in
//! behind an `Arc`, so readers never wait.
//!
//! **The contract for writers**: every code path that inserts or updates a
//! contact, or inserts or deletes one of its grants, sets that contact's
//! `updated_at` to now in the same transaction. (Seed and import do.)
//!
//! As a safety net for writers that break the contract, and for deleted
//! contacts (which no poll by `updated_at` can see), every
//! [`DEEP_CHECK_EVERY`]th poll also counts the contacts in the same
//! snapshot with their highest id; when either disagrees with the index
//! (a missed insert shows in one of them even when a deletion cancels it
//! in the count), or when a poll
//! returns too many changes to patch cheaply, the index is reloaded in
//! full (at most once per a few load durations) while the old one keeps
//! answering.
//!
//! `search.memory_index = false` turns the index off: SQL answers everything.

mod load;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::contacts::{self, SearchPage, SearchQuery};
use super::search_index::{IndexEntry, IndexError, SearchIndex, Select, Tuning};
use super::{Store, StoreError};
use crate::clock::{Clock, delta};
use crate::settings::SearchSettings;
use chrono::{DateTime, Utc};

/// How far before the previous poll the next one looks.
pub const CHANGE_MARGIN: Duration = Duration::from_secs(30);
/// Every this many polls also count the contacts (and take the highest
/// id), to notice deletions and writes that broke the contract.
pub const DEEP_CHECK_EVERY: u64 = 5;

/// Why loading or refreshing the index failed (search itself then uses SQL).
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index could not be built.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The thread building the index stopped (a bug).
    #[error("the search index builder stopped: {0}")]
    Task(String),
}

/// Where the in-memory index stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexStatus {
    /// `search.memory_index = false`: SQL answers every search.
    Off,
    /// Not loaded yet; SQL answers meanwhile.
    Loading,
    /// Loaded and in use.
    Ready {
        /// Contacts held.
        contacts: usize,
        /// Heap bytes held.
        memory_bytes: usize,
    },
    /// The last load failed (the message says why); SQL answers, and the
    /// load is retried every refresh interval.
    Failed(String),
}

/// What one [`Searcher::refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The whole index was (re)loaded.
    Loaded {
        /// Contacts held.
        contacts: usize,
        /// How long the load took.
        took: Duration,
    },
    /// Changed contacts were written over the index.
    Patched {
        /// Contacts written.
        changed: usize,
    },
    /// Nothing had changed.
    Unchanged,
    /// A full reload is due but was put off, to not reload back to back.
    Deferred,
    /// The index is turned off.
    Off,
}

#[derive(Debug, Default)]
struct SyncState {
    /// When the previous poll (or load) began, by the searcher's clock.
    polled_at: Option<DateTime<Utc>>,
    /// What was applied for contacts changed within the margin, so a row
    /// seen again by the overlapping next poll is not applied twice.
    recent: HashMap<i64, (DateTime<Utc>, IndexEntry)>,
    polls: u64,
    last_load: Option<(Instant, Duration)>,
    /// A full reload was wanted but put off.
    reload_due: bool,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    clock: Clock,
    enabled: bool,
    interval: Duration,
    tuning: RwLock<Option<Tuning>>,
    index: RwLock<Option<Arc<SearchIndex>>>,
    status: RwLock<IndexStatus>,
    sync: tokio::sync::Mutex<SyncState>,
}

/// Stops the background task when the last [`Searcher`] clone goes.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Contact search with an in-memory index kept in step with the store.
/// Cheap to clone; clones share the index.
#[derive(Debug, Clone)]
pub struct Searcher {
    shared: Arc<Shared>,
    task: Option<Arc<AbortOnDrop>>,
}

impl Searcher {
    /// A searcher that loads nothing by itself: SQL answers until
    /// [`Searcher::load`] (or [`Searcher::refresh`]) is called. Tests and
    /// one-shot commands use this; the console uses [`Searcher::start`].
    #[must_use]
    pub fn new(store: Store, settings: &SearchSettings, clock: Clock) -> Self {
        let status = if settings.memory_index {
            IndexStatus::Loading
        } else {
            IndexStatus::Off
        };
        Self {
            shared: Arc::new(Shared {
                store,
                clock,
                enabled: settings.memory_index,
                interval: settings.refresh_interval,
                tuning: RwLock::new(None),
                index: RwLock::new(None),
                status: RwLock::new(status),
                sync: tokio::sync::Mutex::new(SyncState::default()),
            }),
            task: None,
        }
    }

    /// A searcher that loads the index in the background and keeps it
    /// fresh every `search.refresh_interval` until the last clone is
    /// dropped. Must be called inside a tokio runtime.
    #[must_use]
    pub fn start(store: Store, settings: &SearchSettings, clock: Clock) -> Self {
        let mut searcher = Self::new(store, settings, clock);
        if settings.memory_index {
            let shared = Arc::clone(&searcher.shared);
            let handle = tokio::spawn(async move {
                loop {
                    if let Err(err) = shared.refresh().await {
                        tracing::warn!(error = %err, "search index refresh failed; SQL answers meanwhile");
                    }
                    tokio::time::sleep(shared.interval).await;
                }
            });
            searcher.task = Some(Arc::new(AbortOnDrop(handle)));
        }
        searcher
    }

    /// Sets the index's count tuning (tests and benchmarks); applies to
    /// the loaded index and every later one.
    pub fn set_tuning(&self, tuning: Tuning) {
        *self
            .shared
            .tuning
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(tuning);
        let current = self.index();
        if let Some(index) = current {
            self.shared
                .swap(Arc::new(SearchIndex::clone(&index).with_tuning(tuning)));
        }
    }

    /// One page of contacts matching the query, with the match count.
    ///
    /// # Errors
    /// When the store fails (the index only picks ids; rows come from the store).
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        // Timed here, at the boundary every front end calls, whatever answers.
        let _timer = crate::diag::metrics::metrics().search_seconds.start_timer();
        self.search_timed(query).await
    }

    async fn search_timed(&self, query: &SearchQuery) -> Result<SearchPage, StoreError> {
        let needle = query.needle();
        if let Some(index) = self.index().filter(|_| SearchIndex::supports(&needle)) {
            let kind = query.kind;
            let after = query.after.clone();
            let limit = query.page_size();
            let only = query.only.clone();
            let found = tokio::task::spawn_blocking(move || {
                let sel = Select {
                    kind,
                    only: only.as_deref(),
                };
                index.search_only(&needle, sel, after.as_ref(), limit)
            })
            .await;
            // A failed scan task (a bug) falls through to SQL rather than failing the search.
            if let Ok(Some(hits)) = found {
                let rows = contacts::rows_by_id(self.shared.store.conn(), &hits.ids).await?;
                return Ok(SearchPage {
                    rows,
                    total: hits.total,
                    next: hits.next,
                });
            }
        }
        contacts::search_sql(self.shared.store.conn(), query).await
    }

    /// The index in use, if loaded.
    #[must_use]
    pub fn index(&self) -> Option<Arc<SearchIndex>> {
        self.shared
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Where the index stands.
    #[must_use]
    pub fn status(&self) -> IndexStatus {
        self.shared
            .status
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads the whole index now, replacing any loaded one.
    ///
    /// # Errors
    /// When the store fails; the previous index (if any) stays in use.
    pub async fn load(&self) -> Result<RefreshOutcome, SearchError> {
        if !self.shared.enabled {
            return Ok(RefreshOutcome::Off);
        }
        let mut sync = self.shared.sync.lock().await;
        self.shared.load(&mut sync).await
    }

    /// Loads the index if it is not loaded, else picks up changes now
    /// (what the background task does every refresh interval).
    ///
    /// # Errors
    /// When the store fails; the current index stays in use.
    pub async fn refresh(&self) -> Result<RefreshOutcome, SearchError> {
        self.shared.refresh().await
    }
}

impl Shared {
    fn swap(&self, index: Arc<SearchIndex>) {
        let status = IndexStatus::Ready {
            contacts: index.len(),
            memory_bytes: index.memory_bytes(),
        };
        crate::diag::metrics::metrics().observe_index(index.len(), index.memory_bytes());
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = Some(index);
        *self.status.write().unwrap_or_else(PoisonError::into_inner) = status;
    }

    fn current(&self) -> Option<Arc<SearchIndex>> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn tuning(&self) -> Option<Tuning> {
        *self.tuning.read().unwrap_or_else(PoisonError::into_inner)
    }

    async fn refresh(&self) -> Result<RefreshOutcome, SearchError> {
        if !self.enabled {
            return Ok(RefreshOutcome::Off);
        }
        let mut sync = self.sync.lock().await;
        let Some(index) = self.current() else {
            return match self.load(&mut sync).await {
                Ok(outcome) => Ok(outcome),
                Err(err) => {
                    *self.status.write().unwrap_or_else(PoisonError::into_inner) =
                        IndexStatus::Failed(err.to_string());
                    Err(err)
                }
            };
        };
        self.poll(&mut sync, &index).await
    }

    async fn load(&self, sync: &mut SyncState) -> Result<RefreshOutcome, SearchError> {
        let began = Instant::now();
        let polled_at = self.clock.now();
        let builder = load::load_all(self.store.conn()).await?;
        let tuning = self.tuning();
        let index = tokio::task::spawn_blocking(move || {
            builder.finish().map(|index| match tuning {
                Some(t) => index.with_tuning(t),
                None => index,
            })
        })
        .await
        .map_err(|e| SearchError::Task(e.to_string()))??;
        let contacts = index.len();
        let took = began.elapsed();
        tracing::info!(
            contacts,
            memory_mib = index.memory_bytes() / (1 << 20),
            took_ms = took.as_millis(),
            "search index loaded"
        );
        self.swap(Arc::new(index));
        sync.polled_at = Some(polled_at);
        sync.recent.clear();
        sync.last_load = Some((Instant::now(), took));
        sync.reload_due = false;
        Ok(RefreshOutcome::Loaded { contacts, took })
    }

    /// Whether a full reload may run now: not back to back, so a store
    /// that keeps changing in bulk does not keep the loader busy.
    fn reload_allowed(&self, sync: &SyncState) -> bool {
        sync.last_load
            .is_none_or(|(at, took)| at.elapsed() >= self.interval.max(took.saturating_mul(3)))
    }

    async fn poll(
        &self,
        sync: &mut SyncState,
        index: &Arc<SearchIndex>,
    ) -> Result<RefreshOutcome, SearchError> {
        if sync.reload_due && self.reload_allowed(sync) {
            return self.load(sync).await;
        }
        let started = self.clock.now();
        let since = sync.polled_at.map(|at| at - delta(CHANGE_MARGIN));
        sync.polls += 1;
        let deep = sync.polls.is_multiple_of(DEEP_CHECK_EVERY);
        let cap = (index.len() / 5).max(20_000);
        let snapshot = load::read_changes(&self.store, since, cap, deep).await?;
        let Some(rows) = snapshot.rows else {
            return self.reload_or_defer(sync).await;
        };

        let mut changes = Vec::new();
        for (_, entry) in &rows {
            let seen = sync
                .recent
                .get(&entry.id)
                .is_some_and(|(_, applied)| applied == entry);
            if !seen {
                changes.push(entry.clone());
            }
        }
        let mut changed = 0;
        let mut current = Arc::clone(index);
        if !changes.is_empty() {
            let base = Arc::clone(index);
            let written = changes.len();
            let patched = tokio::task::spawn_blocking(move || base.apply(changes, &[]))
                .await
                .map_err(|e| SearchError::Task(e.to_string()))??;
            if let Some(patched) = patched {
                changed = written;
                current = Arc::new(patched);
                self.swap(Arc::clone(&current));
            }
        }
        for (updated_at, entry) in rows {
            sync.recent.insert(entry.id, (updated_at, entry));
        }
        if let Some(since) = since {
            sync.recent.retain(|_, (at, _)| *at >= since);
        }
        sync.polled_at = Some(started);

        if let Some((count, max_id)) = snapshot.census
            && (count != current.len() as u64 || max_id != current.max_id())
        {
            tracing::info!(
                store = count,
                index = current.len(),
                "search index disagrees with the store's count; reloading"
            );
            return self.reload_or_defer(sync).await;
        }
        Ok(if changed == 0 {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Patched { changed }
        })
    }

    async fn reload_or_defer(&self, sync: &mut SyncState) -> Result<RefreshOutcome, SearchError> {
        if self.reload_allowed(sync) {
            self.load(sync).await
        } else {
            sync.reload_due = true;
            Ok(RefreshOutcome::Deferred)
        }
    }
}
