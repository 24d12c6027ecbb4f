//! A simulated power cut through the storage trait: unsynced writes are dropped, cut short,
//! zeroed or garbled page by page, and unsynced directory changes survive only as a prefix.
//! Recovery must yield a prefix of what was written that contains every record acknowledged
//! as durable, and the log must go on working (three cuts in a row per seed).

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use common::{open, read_all, small_segments};
use strata_wal::sim::{CrashRng, SimStorage};
use strata_wal::{Durability, WalOptions};

/// What a run wrote: every payload by LSN, and the LSN below which everything is durable.
#[derive(Default)]
struct Log {
    written: BTreeMap<u64, Vec<u8>>,
    durable_below: u64,
    truncated_below: u64,
}

fn check(sim: &SimStorage, log: &mut Log, opts: &WalOptions, case: &str) {
    let wal = open(sim, opts.clone()).unwrap_or_else(|e| panic!("{case}: recovery failed: {e}"));
    let got = read_all(&wal).unwrap_or_else(|e| panic!("{case}: {e}"));
    let first = wal.first_lsn();
    assert!(
        first <= log.truncated_below.max(1),
        "{case}: kept data was deleted"
    );
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.lsn, first + i as u64, "{case}: LSNs not contiguous");
        let want = log
            .written
            .get(&r.lsn)
            .unwrap_or_else(|| panic!("{case}: invented LSN {}", r.lsn));
        assert_eq!(&r.payload[..], &want[..], "{case}: LSN {} damaged", r.lsn);
    }
    let end = first + got.len() as u64;
    assert!(
        end >= log.durable_below,
        "{case}: lost durable records: recovered up to {end}, durable up to {}",
        log.durable_below
    );
    // Records past the recovered end were never durable; forget them, the next run reuses
    // their LSNs with new payloads.
    log.written.retain(|&lsn, _| lsn < end);
    log.durable_below = end;
}

fn run(seed: u64, opts: WalOptions) {
    let mut rng = CrashRng::new(seed);
    let mut sim = SimStorage::new();
    let mut log = Log::default();
    for cut in 0..3 {
        let case = format!("seed {seed}, {:?}, cut {cut}", opts.durability);
        let wal = open(&sim, opts.clone()).unwrap_or_else(|e| panic!("{case}: {e}"));
        let ops = 1 + rng.below(120);
        for _ in 0..ops {
            match rng.below(20) {
                0 => {
                    let below = wal.next_lsn().saturating_sub(rng.below(30)).max(1);
                    wal.truncate_below(below).unwrap();
                    log.truncated_below = log.truncated_below.max(below);
                }
                1 => log.durable_below = wal.sync().unwrap(),
                n => {
                    let count = if n < 15 { 1 } else { 2 + rng.below(4) };
                    let batch: Vec<Vec<u8>> = (0..count)
                        .map(|_| {
                            let max = if rng.below(8) == 0 { 5000 } else { 300 };
                            let len = rng.below(max) as usize;
                            (0..len).map(|_| rng.next_u64() as u8).collect()
                        })
                        .collect();
                    let range = wal.append_batch(batch.clone()).unwrap();
                    for (lsn, p) in range.clone().zip(batch) {
                        log.written.insert(lsn, p);
                    }
                    if opts.durability == Durability::Fsync {
                        log.durable_below = range.end;
                    }
                }
            }
        }
        let after = sim.power_cut(&mut rng);
        drop(wal);
        sim = after;
        check(&sim, &mut log, &opts, &case);
    }
}

#[test]
fn fsync_mode_keeps_every_acknowledged_record() {
    for seed in 0..300 {
        run(seed, small_segments());
    }
}

#[test]
fn other_modes_keep_everything_synced_and_a_clean_prefix() {
    for seed in 0..100 {
        for durability in [
            Durability::None,
            Durability::Interval(Duration::from_millis(2)),
        ] {
            run(
                seed,
                WalOptions {
                    durability,
                    ..small_segments()
                },
            );
        }
    }
}

/// (the power is cut, acknowledged (LSN, payload)s)
type Acks = (bool, Vec<(u64, Vec<u8>)>);

#[test]
fn concurrent_group_commit_survives_a_cut_at_any_moment() {
    for seed in 0..40 {
        let sim = SimStorage::new();
        let wal = open(&sim, small_segments()).unwrap();
        // An ack counts only if recorded before the cut: the cut and the recording take the
        // same lock, so an append that completes after the snapshot is never counted.
        let acks: Mutex<Acks> = Mutex::new((false, Vec::new()));
        let mut rng = CrashRng::new(seed);
        // Cut after a random number of acks (not after a fixed sleep, which on a loaded CI
        // machine may elapse before the first ack), then after a little random extra time.
        let min_acks = rng.below(200) as usize;
        let extra = Duration::from_micros(rng.below(2000));
        let after = std::thread::scope(|s| {
            for t in 0..4u64 {
                let (wal, acks) = (&wal, &acks);
                s.spawn(move || {
                    for i in 0.. {
                        let p = common::payload(t << 32 | i, (i as usize * 41) % 700);
                        let Ok(lsn) = wal.append(p.clone()) else {
                            return;
                        };
                        let mut a = acks.lock().unwrap();
                        if a.0 {
                            return;
                        }
                        a.1.push((lsn, p));
                    }
                });
            }
            while acks.lock().unwrap().1.len() < min_acks {
                std::thread::sleep(Duration::from_micros(50));
            }
            std::thread::sleep(extra);
            let mut a = acks.lock().unwrap();
            a.0 = true;
            sim.power_cut(&mut rng)
        });
        drop(wal);
        let acked = acks.into_inner().unwrap().1;
        let wal = open(&after, small_segments()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let got = read_all(&wal).unwrap();
        for (lsn, p) in &acked {
            let r = got
                .get(*lsn as usize - 1)
                .unwrap_or_else(|| panic!("seed {seed}: acked LSN {lsn} lost"));
            assert_eq!(&r.payload[..], &p[..], "seed {seed}: LSN {lsn}");
        }
        assert!(
            acked.len() >= min_acks,
            "seed {seed}: the cut came before {min_acks} acks"
        );
    }
}
