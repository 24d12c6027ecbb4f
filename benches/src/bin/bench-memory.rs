//! Resident memory at N active series: writes `--series` series (default 100,000) with
//! `--samples` samples each (default 4, written as that many scrape rounds of 1,000-series
//! batches) through the embedded API, then reads `VmRSS`/`VmHWM` from `/proc/self/status`
//! before and after a flush. Prints one JSON object.
//!
//! ```text
//! bench-memory [--series 100000] [--samples 4] [--no-flush-phase] [--dir DIR]
//! ```
//!
//! The client never holds more than one 1,000-series batch, so the growth is the engine's.

use strata_benches::{BASE_TS, arg, flag, no_flush_config, rss, scrape_batch, set_samples};
use strata_engine::{Engine, TenantId};

const BATCH: usize = 1_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let series: usize = arg(&args, "--series", 100_000);
    let samples: u64 = arg(&args, "--samples", 4);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: String = arg(&args, "--dir", tmp.path().display().to_string());

    let (rss_start, _) = rss();
    // No background flush: the flush is explicit below, so both states are measured.
    let engine = Engine::open(&dir, no_flush_config()).expect("open engine");
    let tenant = TenantId::new("bench").expect("valid tenant");
    let (rss_open, _) = rss();
    let targets = series.div_ceil(BATCH);
    let mut accepted = 0;
    for round in 0..samples {
        for t in 0..targets {
            let n = BATCH.min(series - t * BATCH);
            let mut batch = scrape_batch(t, n);
            set_samples(&mut batch, BASE_TS + round as i64 * 15_000, round);
            accepted += engine.write(&tenant, &batch).expect("write").accepted;
        }
    }
    let stats = engine.tenant_stats(&tenant);
    assert_eq!(stats.active_series, series, "every series is active");
    let (rss_written, hwm_written) = rss();
    let per = |rss: u64| rss.saturating_sub(rss_open) as f64 / series as f64;
    let mut out = format!(
        "{{\"series\":{series},\"samples_per_series\":{samples},\"accepted\":{accepted},\
         \"active_series\":{},\"rss_start\":{rss_start},\"rss_after_open\":{rss_open},\
         \"rss_unflushed\":{rss_written},\"hwm_unflushed\":{hwm_written},\
         \"bytes_per_series_unflushed\":{:.0},\"bytes_per_series_unflushed_total_rss\":{:.0}",
        stats.active_series,
        per(rss_written),
        rss_written as f64 / series as f64,
    );
    if !flag(&args, "--no-flush-phase") {
        let flushed = engine.flush().expect("flush");
        let (rss_flushed, hwm_flushed) = rss();
        out += &format!(
            ",\"flushed_samples\":{},\"rss_flushed\":{rss_flushed},\"hwm_flushed\":{hwm_flushed},\
             \"bytes_per_series_flushed\":{:.0},\"bytes_per_series_flushed_total_rss\":{:.0}",
            flushed.samples,
            per(rss_flushed),
            rss_flushed as f64 / series as f64,
        );
        // A further round of writes after the flush: the steady state of a live head.
        let mut accepted2 = 0;
        for t in 0..targets {
            let n = BATCH.min(series - t * BATCH);
            let mut batch = scrape_batch(t, n);
            set_samples(&mut batch, BASE_TS + samples as i64 * 15_000, samples);
            accepted2 += engine.write(&tenant, &batch).expect("write").accepted;
        }
        let (rss_after, hwm_after) = rss();
        out += &format!(
            ",\"accepted_after_flush\":{accepted2},\"rss_after_flush_and_1_round\":{rss_after},\
             \"hwm_end\":{hwm_after},\"bytes_per_series_after_flush_and_1_round\":{:.0}",
            per(rss_after),
        );
    }
    println!("{out}}}");
    drop(engine); // no close: skip the final flush, nothing more to measure
}
