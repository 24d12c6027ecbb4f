//! `wal-crash-child <dir> <seed>`: appends to the WAL in `<dir>` from several threads until
//! it is killed, for the `wal_crash` test.
//!
//! After each acknowledged append it prints `ack <lsn> <tag>` per record (the payload is
//! [`strata_tests::payload`] of the tag) and flushes stdout; before each `truncate_below(x)`
//! it prints `truncating <x>`. Its first line, once the WAL is open, is `ready`. Nothing is
//! printed for an append before it has returned `Ok`.
//! Any WAL error is reported on stderr and ends the process with exit code 2, so the parent
//! can tell it apart from being killed.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use strata_tests::{CrashRng, payload};
use strata_wal::{Wal, WalOptions};

const WRITERS: u64 = 4;
/// Thread 0 calls `truncate_below` about once per this many appends (of all threads), the
/// first time early, so that most short-lived runs truncate at least once.
const TRUNCATE_EVERY: u64 = 200;
/// How far below `next_lsn` truncation goes, at least (plus up to as much again).
const KEEP_RECORDS: u64 = 300;

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("wal-crash-child: {what}: {err}");
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

fn writer(wal: &Wal, out: &Out, appends: &AtomicU64, seed: u64, id: u64) -> ! {
    let mut rng = CrashRng::new(seed ^ id.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut truncate_at = rng.below(TRUNCATE_EVERY / 4);
    let mut line = String::new();
    loop {
        line.clear();
        let n = if rng.below(4) == 0 {
            2 + rng.below(4)
        } else {
            1
        };
        let tags: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
        let lsns = if n == 1 {
            let lsn = wal
                .append(payload(tags[0]))
                .unwrap_or_else(|e| fail("append", e));
            lsn..lsn + 1
        } else {
            wal.append_batch(tags.iter().map(|&t| payload(t)))
                .unwrap_or_else(|e| fail("append_batch", e))
        };
        assert_eq!(
            lsns.end - lsns.start,
            n,
            "append_batch returned a range of the wrong size"
        );
        for (lsn, tag) in lsns.zip(&tags) {
            line.push_str(&format!("ack {lsn} {tag}\n"));
        }
        emit(out, &line);
        let done = appends.fetch_add(1, Ordering::Relaxed) + 1;
        if id == 0 && done >= truncate_at {
            truncate_at = done + TRUNCATE_EVERY / 2 + rng.below(TRUNCATE_EVERY);
            let below = wal
                .next_lsn()
                .saturating_sub(KEEP_RECORDS + rng.below(KEEP_RECORDS));
            if below > 1 {
                emit(out, &format!("truncating {below}\n"));
                if let Err(e) = wal.truncate_below(below) {
                    fail("truncate_below", e);
                }
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed), None) = (args.next(), args.next(), args.next()) else {
        fail("usage", "wal-crash-child <dir> <seed>");
    };
    let seed: u64 = seed.parse().unwrap_or_else(|e| fail("seed", e));
    let options = WalOptions {
        segment_size: 64 * 1024,
        ..Default::default()
    };
    let wal = Arc::new(Wal::open(&dir, options).unwrap_or_else(|e| fail("open", e)));
    let out: Out = Arc::new(Mutex::new(BufWriter::new(std::io::stdout())));
    let appends = Arc::new(AtomicU64::new(0));
    emit(&out, "ready\n");
    let threads: Vec<_> = (0..WRITERS)
        .map(|id| {
            let (wal, out, appends) = (wal.clone(), out.clone(), appends.clone());
            std::thread::spawn(move || writer(&wal, &out, &appends, seed, id))
        })
        .collect();
    for t in threads {
        // Writers loop until the process is killed; one returning means it panicked.
        if t.join().is_err() {
            std::process::exit(3);
        }
    }
}
