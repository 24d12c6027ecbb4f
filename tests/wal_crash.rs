//! Crash test of the WAL with a real process: a child (`wal-crash-child`) appends from
//! several threads and reports each acknowledged record on stdout; it is SIGKILLed at a
//! random moment, and the log is reopened and checked. One directory is kept across rounds,
//! so each round also recovers what the previous kill left and appends after it.
//!
//! Checked after every kill: every acknowledged record not truncated away (this round's and
//! earlier rounds') is there with exactly its payload; the log reads back from its first LSN
//! with consecutive LSNs and no error; every record read is a well-formed payload.
//!
//! `STRATA_CRASH_ROUNDS` sets the number of rounds (default 50), `STRATA_CRASH_SEED` the
//! seed (printed at the start, so a failing run can be replayed as far as thread timing
//! allows).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_tests::{check_payload, kill_child};
use strata_wal::{Lsn, Wal, WalOptions};

/// What the child said before it died.
#[derive(Debug, Default)]
struct ChildReport {
    /// `(lsn, tag)` of every acknowledged record, in the order printed.
    acks: Vec<(Lsn, u64)>,
    /// Largest `truncating <x>` announced.
    max_truncating: Option<Lsn>,
}

/// Parses the child's stdout, ignoring a last line cut short by the kill.
fn parse_output(out: &[u8]) -> ChildReport {
    let text = String::from_utf8_lossy(out);
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut report = ChildReport::default();
    for line in complete.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["ack", lsn, tag] => {
                let lsn = lsn.parse().expect("child printed a bad LSN");
                let tag = tag.parse().expect("child printed a bad tag");
                report.acks.push((lsn, tag));
            }
            ["ready"] => {}
            ["truncating", x] => {
                let x: Lsn = x.parse().expect("child printed a bad truncation point");
                report.max_truncating = report.max_truncating.max(Some(x));
            }
            _ => panic!("unexpected line from child: {line:?}"),
        }
    }
    report
}

/// Runs the child on `dir`, kills it `run_for` after it said it is ready and returns what
/// it acknowledged.
fn run_child(dir: &Path, seed: u64, run_for: Duration) -> ChildReport {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wal-crash-child"));
    command.arg(dir).arg(seed.to_string());
    let ctx = format!("wal-crash-child seed {seed}");
    parse_output(&kill_child(command, run_for, true, &ctx))
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let rounds: usize = std::env::var("STRATA_CRASH_ROUNDS")
        .map(|v| v.parse().expect("STRATA_CRASH_ROUNDS must be a number"))
        .unwrap_or(50);
    let seed: u64 = std::env::var("STRATA_CRASH_SEED")
        .map(|v| v.parse().expect("STRATA_CRASH_SEED must be a number"))
        .unwrap_or_else(|_| rand::rng().random());
    println!("wal_crash: {rounds} rounds, STRATA_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().expect("create temp dir");
    let dir = tmp.path().join("wal");
    let started = Instant::now();

    // Every acknowledged record not yet known to be truncated away, over all rounds.
    let mut acked: BTreeMap<Lsn, u64> = BTreeMap::new();
    // Highest truncation point the child ever announced.
    let mut truncated_below: Lsn = 0;
    let mut total_acks = 0usize;
    let mut rounds_with_acks = 0usize;
    let mut checked = 0usize;
    let mut repaired = 0usize;

    for round in 0..rounds {
        let child_seed: u64 = rng.random();
        let run_for = Duration::from_millis(rng.random_range(5..=80));
        let ctx = format!("seed {seed}, round {round}, child seed {child_seed}, ran {run_for:?}");
        let report = run_child(&dir, child_seed, run_for);

        total_acks += report.acks.len();
        if !report.acks.is_empty() {
            rounds_with_acks += 1;
        }
        for &(lsn, tag) in &report.acks {
            if let Some(old) = acked.insert(lsn, tag) {
                panic!("{ctx}: LSN {lsn} acknowledged twice, tags {old} and {tag}");
            }
        }
        if let Some(x) = report.max_truncating {
            truncated_below = truncated_below.max(x);
        }

        let wal = Wal::open(&dir, WalOptions::default())
            .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
        let rec = wal.recovery_report().clone();
        if rec.repaired.is_some() {
            repaired += 1;
        }
        let first = wal.first_lsn();
        let next = wal.next_lsn();
        assert!(first <= next, "{ctx}: first LSN {first} > next LSN {next}");
        // Truncation drops whole segments holding only LSNs below the point, so the log
        // must still start at or below the highest point announced.
        assert!(
            truncated_below == 0 && first == 1 || first <= truncated_below,
            "{ctx}: log starts at {first}, past the truncation point {truncated_below}; \
             recovery {rec:?}"
        );

        // Read everything; LSNs must run first..next with no gap and no error.
        let mut tags = Vec::with_capacity((next - first) as usize);
        let reader = wal
            .reader(first)
            .unwrap_or_else(|e| panic!("{ctx}: reader({first}): {e}"));
        for (i, item) in reader.enumerate() {
            let expected = first + i as u64;
            let record =
                item.unwrap_or_else(|e| panic!("{ctx}: reading LSN {expected} failed: {e}"));
            assert_eq!(record.lsn, expected, "{ctx}: LSNs not consecutive");
            let tag = check_payload(&record.payload)
                .unwrap_or_else(|e| panic!("{ctx}: damaged record at LSN {expected}: {e}"));
            tags.push(tag);
        }
        assert_eq!(
            first + tags.len() as u64,
            next,
            "{ctx}: read {} records from {first}, but next LSN is {next}; recovery {rec:?}",
            tags.len()
        );

        // Records below the log's start were truncated (checked above that the start is at
        // or below the highest truncation point), everything else acknowledged must be here.
        acked = acked.split_off(&first);
        for (&lsn, &tag) in &acked {
            let Some(&found) = tags.get((lsn - first) as usize) else {
                panic!(
                    "{ctx}: acknowledged LSN {lsn} (tag {tag}) is lost: log holds \
                     {first}..{next}; recovery {rec:?}"
                );
            };
            assert_eq!(
                found, tag,
                "{ctx}: LSN {lsn} holds tag {found}, acknowledged with tag {tag}; recovery {rec:?}"
            );
            checked += 1;
        }
        drop(wal); // releases the directory lock for the next child
    }

    println!(
        "wal_crash summary: rounds={rounds} acked={total_acks} ack_checks={checked} \
         rounds_with_acks={rounds_with_acks} torn_tail_repairs={repaired} \
         truncated_below={truncated_below} elapsed={:?} seed={seed}",
        started.elapsed()
    );
    if rounds > 0 {
        assert!(total_acks > 0, "the child never acknowledged anything");
        assert!(
            rounds_with_acks * 2 > rounds,
            "only {rounds_with_acks} of {rounds} rounds acknowledged anything"
        );
    }
}
