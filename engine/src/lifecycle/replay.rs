//! WAL replay at open, as a two-stage pipeline.
//!
//! Placing replayed samples one by one into per-series buffers costs a few random cache
//! misses per sample (the series' map entry, then the tail of its buffer): that, not reading
//! or decoding the log, was the time of a replay (`docs/benchmarks-history.md`). So a reader thread
//! reads and decodes records and gathers their samples into batches of about
//! [`BATCH_SAMPLES`], stable-sorted by (tenant, series). The applying thread then finds each
//! series once per batch and appends its run of samples in one go, while the reader prepares
//! the next batch. Within a series samples keep their log order, so the result is the same as
//! applying record by record.

use std::collections::HashMap;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::lifecycle::{Core, Replayed, hist_bytes};
use crate::metrics::head::{self, TenantHead};
use crate::model::series::{MIX, SeriesId};
use crate::model::series_key::SeriesKey;
use crate::wal_records::{self, Decoded, LoggedHist, SamplesRecord};
use crate::{Error, Result, Sample, TenantId};

/// Samples gathered before a batch is sorted and applied: enough that most series get a run
/// of several samples (scrape-shaped records carry one sample for each of 1,000 series).
/// (Tiny in unit tests, so that a test replay spans many batches.)
const BATCH_SAMPLES: usize = if cfg!(test) { 5 } else { 1 << 20 };

/// One logged sample in a batch: `seq` is its record's position in the batch.
#[derive(Debug, Clone, Copy)]
struct Logged {
    tenant: u32,
    seq: u32,
    id: SeriesId,
    sample: Sample,
}

/// Records gathered for one apply step.
#[derive(Debug, Default)]
struct Batch {
    tenants: Vec<TenantId>,
    /// The LSN of each record, by `seq`.
    lsns: Vec<u64>,
    /// Series definitions in log order: (tenant, seq, id, labels).
    defs: Vec<(u32, u32, SeriesId, SeriesKey)>,
    samples: Vec<Logged>,
    /// Native histograms in log order: (tenant, seq, histogram).
    hists: Vec<(u32, u32, LoggedHist)>,
}

impl Batch {
    fn add(&mut self, lsn: u64, rec: SamplesRecord) {
        let tenant = match self.tenants.iter().position(|t| *t == rec.tenant) {
            Some(i) => i,
            None => {
                self.tenants.push(rec.tenant);
                self.tenants.len() - 1
            }
        };
        // Lossless: a batch holds far fewer than 2^32 records and tenants.
        let (tenant, seq) = (tenant as u32, self.lsns.len() as u32);
        self.lsns.push(lsn);
        self.defs.extend(
            rec.new_series
                .into_iter()
                .map(|(id, key)| (tenant, seq, id, key)),
        );
        self.samples
            .extend(rec.samples.into_iter().map(|(id, sample)| Logged {
                tenant,
                seq,
                id,
                sample,
            }));
        self.hists
            .extend(rec.histograms.into_iter().map(|h| (tenant, seq, h)));
    }
}

/// What the reader thread sends: a sorted batch, or the error that ends the replay.
type Item = Result<Batch>;

impl Core {
    /// Replays the WAL records at or above `flushed_below` into the heads.
    pub(crate) fn replay_wal(&self, flushed_below: u64) -> Result<Replayed> {
        let (tx, rx) = crossbeam_channel::bounded::<Item>(1);
        std::thread::scope(|scope| {
            let reader = std::thread::Builder::new()
                .name("strata-replay-read".into())
                .spawn_scoped(scope, || self.read_batches(flushed_below, tx))
                .map_err(|source| Error::Io {
                    path: self.dir.join("wal"),
                    source,
                })?;
            let applied = self.apply_batches(&rx);
            drop(rx); // a reader blocked on a full channel gives up
            // A panic in the reader must not pass for the end of the log.
            let read = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            // The apply error comes first: it is about an earlier record than any read error.
            let mut replayed = applied?;
            replayed.signal_bytes = read?;
            Ok(replayed)
        })
    }

    /// The reader thread: reads, decodes, batches and sorts records, then sends them.
    /// Spans and log records go straight to their stores (they share nothing with the
    /// series heads the applier fills); returns the bytes they hold in memory.
    fn read_batches(&self, flushed_below: u64, tx: Sender<Item>) -> Result<u64> {
        let mut signal_bytes = 0u64;
        let send = |mut batch: Batch| {
            batch.samples = group_by_series(&batch.samples);
            tx.send(Ok(batch)).is_ok()
        };
        let mut batch = Batch::default();
        let result = (|| {
            for rec in self.wal.reader(self.wal.first_lsn())? {
                let rec = rec?;
                if rec.lsn < flushed_below {
                    continue; // its samples are in committed Parquet files
                }
                let decoded =
                    wal_records::decode_any(&rec.payload).map_err(|reason| Error::BadRecord {
                        lsn: rec.lsn,
                        reason,
                    })?;
                let decoded = match decoded {
                    Decoded::Samples(s) => s,
                    Decoded::Spans(tenant, recs) => {
                        signal_bytes += self.traces.restore_logged(&tenant, recs);
                        continue;
                    }
                    Decoded::Logs(tenant, recs) => {
                        signal_bytes += self.logs.restore_logged(&tenant, recs);
                        continue;
                    }
                    Decoded::Metadata(tenant, mode, families) => {
                        self.restore_metadata(tenant, mode, families);
                        continue;
                    }
                    Decoded::Exemplars(tenant, series) => {
                        let max = self.config.limits_for(&tenant).max_exemplars;
                        self.exemplars.restore_logged(&tenant, series, max);
                        continue;
                    }
                };
                batch.add(rec.lsn, decoded);
                let held = batch.samples.len() + batch.hists.len();
                if held >= BATCH_SAMPLES && !send(std::mem::take(&mut batch)) {
                    return Ok(()); // the applier stopped on an error of its own
                }
            }
            Ok(())
        })();
        // What was read before an error is applied first, as a record-by-record replay would.
        if !batch.lsns.is_empty() {
            send(batch);
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
        }
        Ok(signal_bytes)
    }

    /// The applying side: definitions first, then each series' run of samples.
    fn apply_batches(&self, rx: &Receiver<Item>) -> Result<Replayed> {
        let mut totals = Replayed::default();
        // Replayed series count as active from now: when they last received a sample is not
        // logged, so the limits take the strict view.
        let now = self.clock.now_ms();
        for batch in rx {
            let batch = batch?;
            totals.records += batch.lsns.len() as u64;
            totals.samples += batch.samples.len() as u64;
            let heads: Vec<Arc<TenantHead>> =
                batch.tenants.iter().map(|t| self.metrics.head(t)).collect();
            let bad = |seq: u32, reason: String| Error::BadRecord {
                lsn: batch.lsns.get(seq as usize).copied().unwrap_or_default(),
                reason,
            };
            // Series first defined in this batch, with the record that defined them: a
            // sample of an earlier record must not use them.
            let mut defined_at: HashMap<(u32, SeriesId), u32> = HashMap::new();
            for (tenant, seq, id, key) in &batch.defs {
                let head = &heads[*tenant as usize];
                let mut h = head.shard_for(*id);
                let h = &mut *h;
                if h.index.get(*id).is_none() {
                    defined_at.insert((*tenant, *id), *seq);
                }
                let Some(s) = h.index.restore(*id, key.bytes()) else {
                    return Err(bad(
                        *seq,
                        format!("series id {id} is logged for two label sets"),
                    ));
                };
                if head::activate(&mut s.buf, &s.key, now, &mut h.active_by_metric) {
                    head.count_active();
                }
            }
            let mut locked = None;
            for run in batch
                .samples
                .chunk_by(|a, b| (a.tenant, a.id) == (b.tenant, b.id))
            {
                let first = run[0];
                let shard = head::shard_of(first.id);
                let h = match &mut locked {
                    Some((t, i, h)) if (*t, *i) == (first.tenant, shard) => h,
                    _ => {
                        locked = None; // one shard lock at a time
                        let h = heads[first.tenant as usize].shard(shard);
                        &mut locked.insert((first.tenant, shard, h)).2
                    }
                };
                let undefined = || {
                    bad(
                        first.seq,
                        format!("sample for series id {}, which was never defined", first.id),
                    )
                };
                if defined_at
                    .get(&(first.tenant, first.id))
                    .is_some_and(|&d| first.seq < d)
                {
                    return Err(undefined());
                }
                let Some(series) = h.index.get_mut(first.id) else {
                    return Err(undefined());
                };
                series.buf.samples.reserve(run.len());
                for s in run {
                    series.buf.restore(s.sample);
                }
            }
            drop(locked);
            // Histograms are few: placed one by one, in log order.
            for (tenant, seq, (id, ts, bytes)) in batch.hists {
                if defined_at.get(&(tenant, id)).is_some_and(|&d| seq < d) {
                    return Err(bad(
                        seq,
                        format!("histogram for series id {id}, which was never defined"),
                    ));
                }
                let mut h = heads[tenant as usize].shard_for(id);
                let Some(series) = h.index.get_mut(id) else {
                    return Err(bad(
                        seq,
                        format!("histogram for series id {id}, which was never defined"),
                    ));
                };
                let len = bytes.len();
                if series.buf.restore_hist((ts, bytes)) {
                    totals.hist_bytes += hist_bytes(len);
                }
            }
        }
        Ok(totals)
    }
}

/// Bits of a series' (tenant-mixed) id that pick its bucket in [`group_by_series`].
const BUCKET_BITS: u32 = 16;

/// `samples` reordered so that each (tenant, series) is one contiguous run, in log order
/// within the run. A counting sort on the top bits of the mixed id (the series of one metric
/// share the id's top bits, so the id is multiplied first to carry its random low bits up;
/// buckets then fill evenly, a batch puts ~16 samples in each), then a stable sort of each
/// small bucket: a comparison sort of the whole batch was most of a replay's time.
fn group_by_series(samples: &[Logged]) -> Vec<Logged> {
    let bucket = |s: &Logged| {
        let mixed = (s.id ^ u64::from(s.tenant).wrapping_mul(MIX)).wrapping_mul(MIX);
        (mixed >> (64 - BUCKET_BITS)) as usize
    };
    let mut starts = vec![0usize; (1 << BUCKET_BITS) + 1];
    for s in samples {
        starts[bucket(s) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let Some(&fill) = samples.first() else {
        return Vec::new();
    };
    let mut out = vec![fill; samples.len()]; // every slot is overwritten below
    for s in samples {
        let b = bucket(s);
        out[next[b]] = *s;
        next[b] += 1;
    }
    for w in starts.windows(2) {
        // Stable: within a series, samples keep their log order.
        out[w[0]..w[1]].sort_by_key(|s| (s.tenant, s.id));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::{Engine, EngineConfig, Limits, MatchOp, Matcher, SeriesSamples, SystemClock};

    /// Replays through many tiny batches ([`BATCH_SAMPLES`] is 5 in unit tests): two
    /// tenants, series defined mid-log, several samples per series per record, out-of-order
    /// samples and re-sends. The reopened engine must read exactly what the first one did.
    #[test]
    fn a_replay_over_many_batches_restores_every_sample_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            limits: Limits {
                ingest_rate: 1e9,
                ingest_burst: 1e9,
                ..Limits::default()
            },
            ..EngineConfig::default()
        };
        let tenants = [TenantId::new("a").unwrap(), TenantId::new("b").unwrap()];
        let now = SystemClock.now_ms();
        let engine = Engine::open(dir.path(), config.clone()).unwrap();
        for round in 0..12i64 {
            for (t, tenant) in tenants.iter().enumerate() {
                let batch: Vec<_> = (0..=round % 5 + t as i64)
                    .map(|i| SeriesSamples {
                        labels: vec![
                            ("__name__".into(), format!("m{}", i % 2)),
                            ("i".into(), i.to_string()),
                        ],
                        // Newest first, then an older one inside the window, then a re-send.
                        samples: [round * 1000, round * 1000 - 1500, round * 1000]
                            .into_iter()
                            .map(|d| Sample {
                                ts: now - 60_000 + d,
                                value: (d + i) as f64,
                            })
                            .collect(),
                    })
                    .collect();
                engine.write(tenant, &batch).unwrap();
            }
        }
        let all = Matcher::new("__name__", MatchOp::Regex, ".+").unwrap();
        let read = |e: &Engine| {
            tenants
                .iter()
                .map(|t| {
                    e.select(t, std::slice::from_ref(&all), now - 120_000, now + 60_000)
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        let before = read(&engine);
        assert!(before.iter().all(|series| series.len() >= 5));
        drop(engine); // without closing: everything is in the WAL only
        let engine = Engine::open(dir.path(), config).unwrap();
        assert_eq!(read(&engine), before);
        for (t, series) in tenants.iter().zip(&before) {
            assert_eq!(engine.tenant_stats(t).active_series, series.len());
        }
    }

    #[test]
    fn grouping_makes_one_run_per_series_in_log_order() {
        let mut samples = Vec::new();
        for seq in 0..50u32 {
            for id in [3u64, u64::MAX, 1 << 63, 3 | (1 << 40), 7] {
                for tenant in 0..2 {
                    let ts = i64::from(seq) * 10 - i64::from(seq % 3); // not monotonic
                    samples.push(Logged {
                        tenant,
                        seq,
                        id,
                        sample: Sample { ts, value: 0.0 },
                    });
                }
            }
        }
        let grouped = group_by_series(&samples);
        assert_eq!(grouped.len(), samples.len());
        let runs: Vec<_> = grouped
            .chunk_by(|a, b| (a.tenant, a.id) == (b.tenant, b.id))
            .collect();
        assert_eq!(runs.len(), 10, "one run per (tenant, series)");
        for run in runs {
            let want: Vec<_> = samples
                .iter()
                .filter(|s| (s.tenant, s.id) == (run[0].tenant, run[0].id))
                .map(|s| (s.seq, s.sample.ts))
                .collect();
            let got: Vec<_> = run.iter().map(|s| (s.seq, s.sample.ts)).collect();
            assert_eq!(got, want, "log order within the run");
        }
    }
}
