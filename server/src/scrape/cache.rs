//! A target's series cache, as Prometheus's scrape cache: each series a scrape of the
//! target gave, by the exact bytes that named it in the body (`name{labels}`), with the
//! engine's handle for it once known. A line whose bytes are in the cache is stored by the
//! handle without its labels being decoded, joined to the target's or relabeled; the
//! cache also says which series the last scrape had, for staleness markers.
//!
//! Exact: a series is found by comparing its bytes, never only a hash, and equal bytes
//! decode to the same labels in the same format (`exposition::decode_series`), so a hit
//! is the series the bytes name. A target's loop owns its cache; the loop ends when its
//! target or its job changes, so what the job does to the labels never changes under it.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_engine::KnownSeries;
use twox_hash::XxHash3_64;

use crate::ingest::exposition::Format;

/// Source of [`SeriesCache::prefix`] values: unique per target loop in the process.
static LOOPS: AtomicU64 = AtomicU64::new(1);

/// The length of an engine key's prefix: the loop's number and the body's format.
pub(crate) const PREFIX_LEN: usize = 9;

/// What the cache knows of one series.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Entry {
    /// The engine's handle, once the series is stored and looked up by its key.
    pub(crate) known: Option<KnownSeries>,
    /// The last scrape (its [`SeriesCache::generation`]) that had it.
    pub(crate) seen: u64,
    /// `metric_relabel_configs` dropped it.
    pub(crate) dropped: bool,
    /// The last successful scrape had it without a timestamp of its own: it gets a
    /// staleness marker when it goes.
    tracked: bool,
    /// The same for the scrape under way.
    pub(crate) tracked_now: bool,
    /// Its last sample was a native histogram (its marker is one too).
    pub(crate) histogram: bool,
}

/// A series a scrape ended, for its staleness marker.
#[derive(Debug)]
pub(crate) struct Gone {
    pub(crate) series: Box<[u8]>,
    pub(crate) known: Option<KnownSeries>,
    pub(crate) histogram: bool,
}

/// A target's series, by the bytes that name them.
#[derive(Debug)]
pub(crate) struct SeriesCache {
    /// Engine keys are this prefix and the series' bytes: unique to this loop and format,
    /// so a key names one label set.
    prefix: [u8; PREFIX_LEN],
    format: Format,
    entries: HashMap<Box<[u8]>, Entry, BuildHasherDefault<XxHash3_64>>,
    /// Counts scrapes.
    generation: u64,
}

impl Default for SeriesCache {
    fn default() -> Self {
        let mut prefix = [0; PREFIX_LEN];
        prefix[..8].copy_from_slice(&LOOPS.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        Self {
            prefix,
            format: Format::Text,
            entries: HashMap::default(),
            generation: 0,
        }
    }
}

impl SeriesCache {
    /// Starts a scrape of a body in `format`; returns its generation. A change of format
    /// forgets the handles (the bytes are read by another grammar), not the series.
    pub(crate) fn begin(&mut self, format: Format) -> u64 {
        if format != self.format {
            self.format = format;
            self.prefix[8] = u8::from(format == Format::OpenMetrics);
            self.forget_known();
        }
        self.generation += 1;
        self.generation
    }

    /// The format of the scrape under way (or the last one).
    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// The entry of the series named by `series`.
    pub(crate) fn get_mut(&mut self, series: &[u8]) -> Option<&mut Entry> {
        self.entries.get_mut(series)
    }

    /// Adds the series named by `series` (not in the cache).
    pub(crate) fn insert(&mut self, series: &[u8], entry: Entry) {
        self.entries.insert(series.into(), entry);
    }

    /// Appends the engine key of the series named by `series` to `out`.
    pub(crate) fn key_into(&self, series: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(series);
    }

    /// Records the engine's handle for the series whose engine key is `key`.
    pub(crate) fn learn(&mut self, key: &[u8], known: KnownSeries) {
        if let Some(e) = key
            .get(PREFIX_LEN..)
            .and_then(|series| self.entries.get_mut(series))
        {
            e.known = Some(known);
        }
    }

    /// Forgets every handle (the engine refused one as another tenant's); the series are
    /// looked up again by their labels.
    pub(crate) fn forget_known(&mut self) {
        for e in self.entries.values_mut() {
            e.known = None;
        }
    }

    /// Ends a successful scrape: the series it had are the tracked ones now; those the
    /// previous scrape tracked and this one lacks are returned (for their staleness
    /// markers, with their handles) and forgotten with the others it lacks.
    pub(crate) fn finish(&mut self) -> Vec<Gone> {
        let generation = self.generation;
        let mut gone = Vec::new();
        self.entries.retain(|series, e| {
            if e.seen == generation {
                e.tracked = e.tracked_now && !e.dropped;
                return true;
            }
            if e.tracked {
                gone.push(Gone {
                    series: series.clone(),
                    known: e.known,
                    histogram: e.histogram,
                });
            }
            false
        });
        gone
    }

    /// Ends every series (a failed scrape, or the target gone): those the last successful
    /// scrape tracked are returned for their markers, and the cache is emptied.
    pub(crate) fn end_all(&mut self) -> Vec<Gone> {
        self.entries
            .drain()
            .filter(|(_, e)| e.tracked)
            .map(|(series, e)| Gone {
                series,
                known: e.known,
                histogram: e.histogram,
            })
            .collect()
    }
}
