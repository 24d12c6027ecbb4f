//! `engine-crash-child <dir> <seed> <doomed-gone>`: writes samples to the engine in `<dir>` from several
//! threads until it is killed, for the `engine_crash` test.
//!
//! Writer `k` writes tenant `t<k % 2>`, series `m{thread="<k>", s="<0..8>"}`, with values
//! [`strata_tests::engine_value`] of (thread, series, ts). Timestamps only grow per series,
//! starting above everything already stored, so every sample is new and must be accepted.
//!
//! A flusher thread calls [`Engine::flush`] every 10-60 ms and prints `flushed <samples>`
//! after each flush that returned `Ok`; a compactor thread calls [`Engine::compact_all`]
//! every 20-80 ms, printing `compacting` before and `compacted <file sets merged>` after. So kills also land in flushes
//! and compactions.
//!
//! Each writer stays under [`RATE`] samples per second, well below the engine's default
//! ingest-rate limit and slow enough that the store (replayed on every open) stays small.
//!
//! Once the engine is open it prints `ready <start_ts>`. After each write returns `Ok` it
//! prints, per series in the batch,
//! `ack <tenant> <thread> <series> <first_ts> <step> <count>` (the timestamps are
//! `first_ts + i * step` for `i` in `0..count`) and flushes stdout. Nothing is printed for
//! a write before it has returned. Any engine error, or an outcome that did not accept every
//! sample, is reported on stderr and ends the process with exit code 2, so the parent can
//! tell it apart from being killed.

use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_engine::{
    Engine, HistogramSample, MatchOp, Matcher, Sample, SeriesHistograms, SeriesSamples, TenantId,
};
use strata_tests::{CrashRng, engine_histogram, engine_value};

const WRITERS: u64 = 3;
/// Series per writer.
const SERIES: u64 = 8;
/// Timestamps start here in an empty store (2023-11-14, in milliseconds).
const FIRST_TS: i64 = 1_700_000_000_000;
/// The tenant retention keeps dropping (see [`doomer`]).
const DOOMED: &str = "doomed";
/// Samples per second per writer, at most (two writers share tenant `t0`).
const RATE: f64 = 8_000.0;

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("engine-crash-child: {what}: {err}");
    std::process::exit(2);
}

type Out = Arc<Mutex<BufWriter<std::io::Stdout>>>;

/// Writes `text` and flushes it, all under the lock so lines never interleave.
fn emit(out: &Out, text: &str) {
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        fail("write stdout", e);
    }
}

/// One series' part of a batch.
struct Part {
    series: u64,
    first: i64,
    step: i64,
    count: u64,
}

fn writer(engine: &Engine, out: &Out, start: i64, seed: u64, id: u64) -> ! {
    let mut rng = CrashRng::new(seed ^ id.wrapping_mul(0xA24B_AED4_963E_E407));
    let tenant_name = format!("t{}", id % 2);
    let tenant = TenantId::new(&tenant_name).unwrap_or_else(|e| fail("tenant", e));
    let mut next_ts = [start; SERIES as usize];
    let mut line = String::new();
    let began = Instant::now();
    let mut sent = 0u64;
    loop {
        let due = began + Duration::from_secs_f64(sent as f64 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        // 20..=200 samples over 1..=4 distinct series.
        let total = 20 + rng.below(181);
        let mut series: Vec<u64> = (0..SERIES).collect();
        for i in (1..series.len()).rev() {
            series.swap(i, rng.below(i as u64 + 1) as usize);
        }
        series.truncate(1 + rng.below(4) as usize);
        let k = series.len() as u64;
        sent += total;
        let mut parts = Vec::with_capacity(series.len());
        let mut batch = Vec::with_capacity(series.len());
        for (i, &s) in series.iter().enumerate() {
            let count = total / k + u64::from((i as u64) < total % k);
            let step = 1 + rng.below(3) as i64;
            let first = next_ts[s as usize];
            let mut samples: Vec<Sample> = (0..count as i64)
                .map(|j| {
                    let ts = first + j * step;
                    Sample {
                        ts,
                        value: engine_value(id, s, ts),
                    }
                })
                .collect();
            // Sometimes newest first: all but the first go through the out-of-order insert.
            if rng.below(4) == 0 {
                samples.reverse();
            }
            next_ts[s as usize] = first + count as i64 * step + rng.below(5) as i64;
            batch.push(SeriesSamples {
                labels: vec![
                    ("__name__".into(), "m".into()),
                    ("thread".into(), id.to_string()),
                    ("s".into(), s.to_string()),
                ],
                samples,
            });
            parts.push(Part {
                series: s,
                first,
                step,
                count,
            });
        }
        let outcome = engine
            .write(&tenant, &batch)
            .unwrap_or_else(|e| fail("write", e));
        if outcome.accepted != total || outcome.duplicates != 0 || outcome.rejected_total() != 0 {
            fail(
                "write",
                format!("sent {total} new samples, got {outcome:?}"),
            );
        }
        line.clear();
        for p in &parts {
            line.push_str(&format!(
                "ack {tenant_name} {id} {} {} {} {}\n",
                p.series, p.first, p.step, p.count
            ));
        }
        emit(out, &line);
    }
}

fn flusher(engine: &Engine, out: &Out, seed: u64) -> ! {
    let mut rng = CrashRng::new(seed ^ 0xF1u64.wrapping_mul(0xA24B_AED4_963E_E407));
    loop {
        std::thread::sleep(Duration::from_millis(10 + rng.below(51)));
        let stats = engine.flush().unwrap_or_else(|e| fail("flush", e));
        emit(out, &format!("flushed {}\n", stats.samples));
    }
}

/// Tenant `doomed` has a disk budget of one byte, so every retention pass drops all its
/// partitions. One thread writes its series `d` (timestamps from the wall clock, so they
/// grow across rounds too) and, every few batches, notes the newest acknowledged timestamp
/// `x`, flushes, applies retention and prints `gone <x>`: every doomed sample up to `x` has
/// been dropped and must never be read again.
///
/// Timestamps start above `gone`, the newest dropped timestamp earlier children reported:
/// they run ahead of the wall clock (20 per batch, a few ms apart), so without it a new
/// child could legitimately store samples under an earlier child's `gone`.
fn doomer(engine: &Engine, out: &Out, seed: u64, gone: i64) -> ! {
    let mut rng = CrashRng::new(seed ^ 0xD0u64.wrapping_mul(0xA24B_AED4_963E_E407));
    let tenant = TenantId::new(DOOMED).unwrap_or_else(|e| fail("tenant", e));
    let mut last = gone;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let samples: Vec<Sample> = (0..20)
            .map(|i| {
                last = last.max(now).max(last + 1) + i64::from(i > 0);
                Sample {
                    ts: last,
                    value: 1.0,
                }
            })
            .collect();
        let batch = [SeriesSamples {
            labels: vec![("__name__".into(), "d".into())],
            samples,
        }];
        let outcome = engine
            .write(&tenant, &batch)
            .unwrap_or_else(|e| fail("write doomed", e));
        if outcome.accepted != 20 {
            fail("write doomed", format!("{outcome:?}"));
        }
        if rng.below(4) == 0 {
            engine.flush().unwrap_or_else(|e| fail("flush", e));
            engine
                .apply_retention()
                .unwrap_or_else(|e| fail("retention", e));
            emit(out, &format!("gone {last}\n"));
        }
        std::thread::sleep(Duration::from_millis(2 + rng.below(8)));
    }
}

/// Merges the file sets of every partition, open ones included, every 20-80 ms, so kills
/// also land in compactions.
fn compactor(engine: &Engine, out: &Out, seed: u64) -> ! {
    let mut rng = CrashRng::new(seed ^ 0xC0u64.wrapping_mul(0xA24B_AED4_963E_E407));
    loop {
        std::thread::sleep(Duration::from_millis(20 + rng.below(61)));
        emit(out, "compacting\n");
        let c = engine.compact_all().unwrap_or_else(|e| fail("compact", e));
        emit(out, &format!("compacted {}\n", c.file_sets_in));
    }
}

/// Writes one native histogram of series `hm` (tenant `h`) every 1-4 ms at increasing
/// timestamps from `start`, and reports each acknowledged one (`hack <ts>`).
fn hist_writer(engine: &Engine, out: &Out, start: i64, seed: u64) -> ! {
    let mut rng = CrashRng::new(seed ^ 0x4857u64.wrapping_mul(0xA24B_AED4_963E_E407));
    let tenant = TenantId::new("h").unwrap_or_else(|e| fail("tenant", e));
    let mut ts = start;
    loop {
        std::thread::sleep(Duration::from_millis(1 + rng.below(4)));
        let s = SeriesHistograms {
            labels: vec![("__name__".into(), "hm".into())],
            histograms: vec![HistogramSample {
                ts,
                h: Arc::new(engine_histogram(ts)),
            }],
        };
        let outcome = engine
            .write_histograms(&tenant, &[s])
            .unwrap_or_else(|e| fail("write_histograms", e));
        if outcome.accepted != 1 {
            fail("write_histograms", format!("at {ts}: {outcome:?}"));
        }
        emit(out, &format!("hack {ts}\n"));
        ts += 1 + rng.below(1_000) as i64;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed), Some(gone), None) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        fail("usage", "engine-crash-child <dir> <seed> <doomed-gone>");
    };
    let seed: u64 = seed.parse().unwrap_or_else(|e| fail("seed", e));
    let gone: i64 = gone.parse().unwrap_or_else(|e| fail("doomed-gone", e));
    let mut config = strata_tests::engine_crash_config();
    let mut doomed = config.limits.clone();
    doomed.disk_budget = Some(1);
    config.tenant_limits.insert(DOOMED.into(), doomed);
    let engine = Engine::open(&dir, config).unwrap_or_else(|e| fail("open", e));
    // Start above every stored sample, acknowledged or not, so nothing is a re-send.
    let name = Matcher::new("__name__", MatchOp::Equal, "m").unwrap_or_else(|e| fail("matcher", e));
    let mut start = FIRST_TS;
    for t in ["t0", "t1"] {
        let tenant = TenantId::new(t).unwrap_or_else(|e| fail("tenant", e));
        let stored = engine
            .select(&tenant, std::slice::from_ref(&name), i64::MIN, i64::MAX)
            .unwrap_or_else(|e| fail("select", e));
        for s in stored {
            if let Some(last) = s.samples.last() {
                start = start.max(last.ts + 1);
            }
        }
    }
    let mut h_start = FIRST_TS;
    let hm = Matcher::new("__name__", MatchOp::Equal, "hm").unwrap_or_else(|e| fail("matcher", e));
    let h_tenant = TenantId::new("h").unwrap_or_else(|e| fail("tenant", e));
    for s in engine
        .select(&h_tenant, std::slice::from_ref(&hm), i64::MIN, i64::MAX)
        .unwrap_or_else(|e| fail("select", e))
    {
        if let Some(last) = s.histograms.last() {
            h_start = h_start.max(last.ts + 1);
        }
    }
    let engine = Arc::new(engine);
    let out: Out = Arc::new(Mutex::new(BufWriter::new(std::io::stdout())));
    emit(&out, &format!("ready {start}\n"));
    let mut threads: Vec<_> = (0..WRITERS)
        .map(|id| {
            let (engine, out) = (engine.clone(), out.clone());
            std::thread::spawn(move || writer(&engine, &out, start, seed, id))
        })
        .collect();
    let (e, o) = (engine.clone(), out.clone());
    threads.push(std::thread::spawn(move || compactor(&e, &o, seed)));
    let (e, o) = (engine.clone(), out.clone());
    threads.push(std::thread::spawn(move || {
        hist_writer(&e, &o, h_start, seed)
    }));
    let (e, o) = (engine.clone(), out.clone());
    threads.push(std::thread::spawn(move || doomer(&e, &o, seed, gone)));
    threads.push(std::thread::spawn(move || flusher(&engine, &out, seed)));
    for t in threads {
        // Threads loop until the process is killed; one returning means it panicked.
        if t.join().is_err() {
            std::process::exit(3);
        }
    }
}
