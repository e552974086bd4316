//! Contact search as the console and the CLI call it: [`Searcher::search`].
//!
//! It answers from the index ([`LiveIndex`]) when one is loaded and from
//! SQL (`contacts::search_sql`) otherwise, so the first frame never waits
//! for the index. The page's rows are always read from the store by
//! primary key, so what is shown is current even when the index is a few
//! seconds behind.
//!
//! # One index per host
//!
//! With `search.index_file` set (by default beside the SQLite store, or in
//! the data dir for a server store), the index is a file that every
//! keydesk process on the host maps read-only ([`index_file`]): a console
//! started on a host where it exists searches within moments, and each
//! further console adds only its small delta to memory, the file's pages
//! being the kernel's page cache, shared. The first process that finds no
//! valid file (or must reload) builds it under a lock; the others wait for
//! that build and map its result. The file records when the store read it
//! reflects began (its watermark); a process that maps it then polls the
//! changes since, like any other poll. Without a file each process builds
//! its own copy in memory, as before.
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
//! contacts (which no poll by `updated_at` can see), every poll also
//! takes a census in the same snapshot: the highest id, and how many
//! contacts have an id in one slice of [`CENSUS_IDS`] ids, the next slice
//! at each poll, round and round (a whole count took a second of both
//! cores at ten million contacts, which keystrokes felt; a slice takes a
//! few milliseconds, and the sweep comes round in `highest id /
//! CENSUS_IDS` polls). When either disagrees with the index
//! (a missed insert shows in one of them even when a deletion cancels it
//! in the count), or when a poll
//! returns too many changes to patch cheaply, the index is reloaded in
//! full (at most once per a few load durations) while the old one keeps
//! answering. Polled changes go into the delta; once it holds
//! [`FOLD_AT`] contacts it is folded into a new file (by whichever process
//! gets the lock first; the others map the result). A poll that read
//! [`RESTAMP_AT`] rows new to it, changed or not, folds too, so the file's
//! watermark moves past them and the next process to map it does not read
//! them again.
//!
//! `search.memory_index = false` turns the index off: SQL answers everything.

mod index_file;
mod load;

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::contacts::{self, SearchPage, SearchQuery};
use super::search_index::{IndexEntry, IndexError, LiveIndex, Tuning};
use super::{Store, StoreError};
use crate::clock::{Clock, delta};
use crate::settings::SearchSettings;
use chrono::{DateTime, Utc};
use index_file::{BuildLock, IndexFile, Opened};

/// How far before the previous poll the next one looks.
pub const CHANGE_MARGIN: Duration = Duration::from_secs(30);
/// Ids a poll's census counts (see the module's note).
pub const CENSUS_IDS: i64 = 1 << 17;
/// A delta of this many changed contacts is folded into a new base.
pub const FOLD_AT: usize = 20_000;
/// A poll that reads this many rows new to this process writes the index
/// file again (folded, with the poll's watermark) even when none of them
/// changed the index: a file written just after a bulk write holds rows
/// inside its change margin, which every process mapping it would read again.
pub const RESTAMP_AT: usize = 2_000;
/// How long a search waits for an index file that exists to be mapped
/// (checking it takes a fraction of a second even at ten million
/// contacts), rather than asking SQL, which takes seconds there.
pub const MAP_WAIT: Duration = Duration::from_secs(2);

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
    /// The index file could not be read or written.
    #[error("search index file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
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
        /// Heap bytes this process holds for it.
        memory_bytes: usize,
        /// Bytes of the index file mapped (shared by every process on the
        /// host); 0 when the index is this process's own.
        mapped_bytes: usize,
    },
    /// The last load failed (the message says why); SQL answers, and the
    /// load is retried every refresh interval.
    Failed(String),
}

/// What one [`Searcher::refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The whole index was (re)loaded, built or mapped from the file.
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
    /// Where the next census slice starts.
    census_from: i64,
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
    file: Option<IndexFile>,
    tuning: RwLock<Option<Tuning>>,
    index: RwLock<Option<Arc<LiveIndex>>>,
    /// Turns true once an index is in use.
    ready: tokio::sync::watch::Sender<bool>,
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
                file: (!settings.index_file.is_empty())
                    .then(|| IndexFile::new(settings.index_file.clone().into())),
                tuning: RwLock::new(None),
                index: RwLock::new(None),
                status: RwLock::new(status),
                sync: tokio::sync::Mutex::new(SyncState::default()),
                ready: tokio::sync::watch::Sender::new(false),
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
                .swap(Arc::new(LiveIndex::clone(&index).with_tuning(tuning)));
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
        let existing_file = self.shared.enabled
            && self.index().is_none()
            && self
                .shared
                .file
                .as_ref()
                .is_some_and(|f| f.current().ok().flatten().is_some());
        if existing_file {
            let mut ready = self.shared.ready.subscribe();
            let _ = tokio::time::timeout(MAP_WAIT, ready.wait_for(|r| *r)).await;
        }
        if let Some(index) = self
            .index()
            .filter(|_| super::search_index::SearchIndex::supports(&needle))
        {
            let kind = query.kind;
            let after = query.after.clone();
            let limit = query.page_size();
            let only = query.only.clone();
            let found = tokio::task::spawn_blocking(move || {
                index.search_with(&needle, kind, after.as_ref(), limit, only.as_deref())
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
    pub fn index(&self) -> Option<Arc<LiveIndex>> {
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

    /// Loads the whole index now, replacing any loaded one: maps the
    /// index file when there is a valid one (and catches up with the
    /// changes since it was written), builds it otherwise.
    ///
    /// # Errors
    /// When the store fails; the previous index (if any) stays in use.
    pub async fn load(&self) -> Result<RefreshOutcome, SearchError> {
        if !self.shared.enabled {
            return Ok(RefreshOutcome::Off);
        }
        let mut sync = self.shared.sync.lock().await;
        self.shared.open_or_build(&mut sync).await
    }

    /// Builds the index from the store now, writing the index file when
    /// there is one (benchmarks and tests; a corrupt file is rebuilt the
    /// same way).
    ///
    /// # Errors
    /// When the store or the file fails; the previous index stays in use.
    pub async fn rebuild(&self) -> Result<RefreshOutcome, SearchError> {
        if !self.shared.enabled {
            return Ok(RefreshOutcome::Off);
        }
        let mut sync = self.shared.sync.lock().await;
        self.shared.build(&mut sync).await
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
    fn swap(&self, index: Arc<LiveIndex>) {
        let status = IndexStatus::Ready {
            contacts: index.len(),
            memory_bytes: index.memory_bytes(),
            mapped_bytes: if index.base().file_id().is_some() {
                index.base().image_bytes()
            } else {
                0
            },
        };
        crate::diag::metrics::metrics().observe_index(index.len(), index.memory_bytes());
        *self.index.write().unwrap_or_else(PoisonError::into_inner) = Some(index);
        *self.status.write().unwrap_or_else(PoisonError::into_inner) = status;
        self.ready.send_replace(true);
    }

    fn current(&self) -> Option<Arc<LiveIndex>> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn tuning(&self) -> Option<Tuning> {
        *self.tuning.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn file_error(&self, source: std::io::Error) -> SearchError {
        SearchError::File {
            path: self
                .file
                .as_ref()
                .map(|f| f.path().display().to_string())
                .unwrap_or_default(),
            source,
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, SearchError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| SearchError::Task(e.to_string()))
    }

    async fn refresh(&self) -> Result<RefreshOutcome, SearchError> {
        if !self.enabled {
            return Ok(RefreshOutcome::Off);
        }
        let mut sync = self.sync.lock().await;
        let Some(index) = self.current() else {
            return match self.open_or_build(&mut sync).await {
                Ok(outcome) => Ok(outcome),
                Err(err) => {
                    *self.status.write().unwrap_or_else(PoisonError::into_inner) =
                        IndexStatus::Failed(err.to_string());
                    Err(err)
                }
            };
        };
        // Another process wrote a new file: map it instead.
        if let Some(file) = &self.file {
            let now = file.current().ok().flatten();
            if now.is_some() && now != index.base().file_id() {
                return self.open_or_build(&mut sync).await;
            }
        }
        self.poll(&mut sync, &index).await
    }

    /// Maps the index file if it is valid and catches up with the store
    /// since it was written; builds it otherwise.
    async fn open_or_build(&self, sync: &mut SyncState) -> Result<RefreshOutcome, SearchError> {
        let Some(file) = self.file.clone() else {
            return self.build(sync).await;
        };
        let began = Instant::now();
        let opened = match self.blocking(move || file.open()).await? {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(error = %self.file_error(e), "cannot read the search index file");
                Opened::Missing
            }
        };
        match opened {
            Opened::Ready(index) if index.watermark().is_some() => {
                self.adopt(sync, *index, began).await
            }
            Opened::Ready(_) | Opened::Missing => self.build(sync).await,
            Opened::Refused(why) => {
                tracing::warn!(reason = %why, "the search index file is unusable; rebuilding it");
                self.build(sync).await
            }
        }
    }

    /// Starts using a mapped index file and polls the changes since it
    /// was written, checking the count against the store.
    async fn adopt(
        &self,
        sync: &mut SyncState,
        index: super::search_index::SearchIndex,
        began: Instant,
    ) -> Result<RefreshOutcome, SearchError> {
        let index = match self.tuning() {
            Some(t) => index.with_tuning(t),
            None => index,
        };
        let live = Arc::new(LiveIndex::new(index));
        sync.polled_at = live.base().watermark();
        sync.recent.clear();
        self.swap(Arc::clone(&live));
        // Boxed: a poll may rebuild, and a rebuild may adopt another file.
        let outcome = Box::pin(self.poll(sync, &live)).await?;
        if let RefreshOutcome::Loaded { .. } = outcome {
            return Ok(outcome);
        }
        let contacts = self.current().map_or(0, |i| i.len());
        tracing::info!(
            contacts,
            took_ms = began.elapsed().as_millis(),
            "search index file mapped"
        );
        Ok(RefreshOutcome::Loaded {
            contacts,
            took: began.elapsed(),
        })
    }

    /// Takes the build lock of the index file, waiting for another
    /// builder; `Err` with the outcome when that builder's file was
    /// adopted instead. No lock (build in memory) when there is no file or
    /// it cannot be locked: search must not depend on the file's folder.
    async fn lock_for_build(
        &self,
        sync: &mut SyncState,
        began: Instant,
    ) -> Result<Result<Option<BuildLock>, RefreshOutcome>, SearchError> {
        let Some(file) = self.file.clone() else {
            return Ok(Ok(None));
        };
        let before = file.current().ok().flatten();
        let waiting = file.clone();
        let lock = match self.blocking(move || waiting.lock()).await? {
            Ok(lock) => lock,
            Err(e) => {
                tracing::warn!(error = %self.file_error(e), "cannot lock the search index file; this process keeps its own index");
                return Ok(Ok(None));
            }
        };
        let now = file.current().ok().flatten();
        let mine = self.current().and_then(|i| i.base().file_id());
        if now.is_none() || now == before || now == mine {
            return Ok(Ok(Some(lock)));
        }
        // Somebody built it while this process waited: use theirs.
        drop(lock);
        let reopened = file.clone();
        if let Ok(Opened::Ready(index)) = self.blocking(move || reopened.open()).await?
            && index.watermark().is_some()
        {
            return Ok(Err(self.adopt(sync, *index, began).await?));
        }
        Ok(Ok(self.blocking(move || file.lock()).await?.ok()))
    }

    /// Builds the index from the store: into the index file when there is
    /// one (under its lock; if another process built it meanwhile, that
    /// one is used), else in memory.
    async fn build(&self, sync: &mut SyncState) -> Result<RefreshOutcome, SearchError> {
        let began = Instant::now();
        let lock = match self.lock_for_build(sync, began).await? {
            Ok(lock) => lock,
            Err(adopted) => return Ok(adopted),
        };
        let polled_at = self.clock.now();
        let builder = load::load_all(self.store.conn()).await?;
        let tuning = self.tuning();
        let file = self.file.clone();
        let index = self
            .blocking(move || -> Result<_, SearchError> {
                let built = builder.finish_at(Some(polled_at))?;
                let index = match (&file, &lock) {
                    (Some(file), Some(lock)) => match file.write(lock, &built) {
                        Ok(Opened::Ready(mapped)) => *mapped,
                        Ok(_) => built,
                        Err(source) => {
                            // Searching goes on from this process's own copy.
                            tracing::warn!(file = %file.path().display(), error = %source, "cannot write the search index file");
                            built
                        }
                    },
                    _ => built,
                };
                drop(lock);
                Ok(match tuning {
                    Some(t) => index.with_tuning(t),
                    None => index,
                })
            })
            .await??;
        let contacts = index.len();
        let took = began.elapsed();
        tracing::info!(
            contacts,
            file_mib = index.image_bytes() / (1 << 20),
            took_ms = took.as_millis(),
            "search index built"
        );
        self.swap(Arc::new(LiveIndex::new(index)));
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
        index: &Arc<LiveIndex>,
    ) -> Result<RefreshOutcome, SearchError> {
        if sync.reload_due && self.reload_allowed(sync) {
            return self.build(sync).await;
        }
        let started = self.clock.now();
        let since = sync.polled_at.map(|at| at - delta(CHANGE_MARGIN));
        let cap = (index.len() / 5).max(20_000);
        let slice = sync.census_from..sync.census_from.saturating_add(CENSUS_IDS);
        let snapshot = load::read_changes(&self.store, since, cap, slice).await?;
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
        let unseen = changes.len();
        if !changes.is_empty() {
            let base = Arc::clone(index);
            let patched = self
                .blocking(move || base.with_changes(changes, &[]))
                .await??;
            if let Some(patched) = patched {
                changed = unseen;
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

        let census = snapshot.census;
        let held = current.count_ids(census.ids.clone());
        if census.count != held || census.max_id != current.max_id() {
            tracing::info!(
                from_id = census.ids.start,
                store = census.count,
                index = held,
                "search index disagrees with the store's census; reloading"
            );
            return self.reload_or_defer(sync).await;
        }
        // Past the highest id, round again from the start.
        sync.census_from = if census.max_id.is_some_and(|max| census.ids.end <= max) {
            census.ids.end
        } else {
            0
        };
        // Many rows read that the file already held (a file written just
        // after a bulk write: those rows sit inside its change margin)
        // are folded too, restamping the file, or every process that maps
        // it would read them all again.
        if current.changed() >= FOLD_AT || (unseen >= RESTAMP_AT && self.file.is_some()) {
            self.fold(&current, started).await?;
        }
        Ok(if changed == 0 {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Patched { changed }
        })
    }

    /// Folds the delta into a new base: a new index file when this process
    /// gets the lock (another one folding already will do instead).
    async fn fold(
        &self,
        live: &Arc<LiveIndex>,
        polled_at: DateTime<Utc>,
    ) -> Result<(), SearchError> {
        let live = Arc::clone(live);
        let file = self.file.clone();
        let folded = self
            .blocking(move || -> Result<Option<LiveIndex>, SearchError> {
                let lock = match &file {
                    Some(file) => match file.try_lock() {
                        Ok(Some(lock)) => Some(lock),
                        Ok(None) => return Ok(None),
                        Err(source) => {
                            return Err(SearchError::File {
                                path: file.path().display().to_string(),
                                source,
                            });
                        }
                    },
                    None => None,
                };
                let tuning = live.base().tuning();
                let mut index = live.fold(Some(polled_at))?;
                if let (Some(file), Some(lock)) = (&file, &lock) {
                    match file.write(lock, &index) {
                        Ok(Opened::Ready(mapped)) => index = *mapped,
                        Ok(_) => {}
                        Err(source) => {
                            return Err(SearchError::File {
                                path: file.path().display().to_string(),
                                source,
                            });
                        }
                    }
                }
                Ok(Some(LiveIndex::new(index.with_tuning(tuning))))
            })
            .await??;
        if let Some(folded) = folded {
            self.swap(Arc::new(folded));
        }
        Ok(())
    }

    async fn reload_or_defer(&self, sync: &mut SyncState) -> Result<RefreshOutcome, SearchError> {
        if self.reload_allowed(sync) {
            self.build(sync).await
        } else {
            sync.reload_due = true;
            Ok(RefreshOutcome::Deferred)
        }
    }
}
