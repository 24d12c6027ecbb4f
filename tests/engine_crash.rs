//! Crash test of the storage engine with a real process: a child (`engine-crash-child`)
//! writes samples for two tenants from several threads and reports each acknowledged write
//! on stdout; it is SIGKILLed at a random moment, and the engine is reopened (replaying its
//! WAL) and checked. One directory is kept across rounds, so each round also recovers what
//! the previous kills left and writes after it.
//!
//! A fourth writer stores native histograms (tenant `h`, one series, the generator
//! `engine_histogram`): after every kill each acknowledged one is read back bit for bit,
//! from the WAL or from the Parquet files the child's flushes wrote.
//!
//! Checked after every kill: every sample acknowledged in this or an earlier round is read
//! back exactly once with exactly its value (compared by bits, so NaN payloads such as the
//! staleness marker must survive); every sample read, acknowledged or not, is well-formed:
//! a known tenant and series, and the generator's value for its (thread, series, ts).
//!
//! The child also flushes the engine to Parquet partitions every 10-60 ms and compacts them
//! every 20-80 ms, so kills land in flushes and compactions too, and reads merge Parquet
//! files with the replayed WAL. A third tenant, `doomed`, has a one-byte disk budget in the
//! child (none in the parent): the child keeps writing it and dropping all its partitions by
//! retention, reporting how far it dropped; after every kill no dropped sample may be read
//! again, so kills inside drops must never bring a partition back.
//!
//! Most rounds wait for the child to say it has opened the engine and kill it 20-150 ms
//! (a third of them 300-700 ms) into its writes; one in six kills it at a random moment from its start, often while it
//! is still replaying the WAL.
//!
//! `STRATA_ENGINE_CRASH_ROUNDS` sets the number of rounds (default 30),
//! `STRATA_ENGINE_CRASH_SEED` the seed (printed at the start, so a failing run can be
//! replayed as far as thread timing allows).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_engine::{Engine, MatchOp, Matcher, TenantId};
use strata_tests::{engine_crash_config, engine_histogram, engine_value, kill_child};

/// Writer threads in the child, and series per writer.
const WRITERS: u64 = 3;
const SERIES: u64 = 8;

/// One `ack` line: `count` samples of series `series` of writer `thread`, at
/// `first + i * step`.
#[derive(Debug, Clone, Copy)]
struct Ack {
    thread: u64,
    series: u64,
    first: i64,
    step: i64,
    count: u64,
}

/// What the child said before it died.
#[derive(Debug, Default)]
struct ChildReport {
    /// The first timestamp of its run, once it had opened the engine.
    ready: Option<i64>,
    /// Its acknowledged writes, in the order printed.
    acks: Vec<Ack>,
    /// Flushes that returned `Ok`, and how many of them wrote something.
    flushes: usize,
    /// Compactions that returned `Ok` having merged something.
    compactions: usize,
    /// Whether the child was killed inside a compaction.
    compacting: bool,
    /// Newest timestamp of tenant `doomed` that retention has dropped (all up to it).
    gone: Option<i64>,
    nonempty_flushes: usize,
    /// Acknowledged native histograms (tenant `h`, series `hm`), by timestamp.
    hacks: Vec<i64>,
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
        let num = |w: &str| -> i64 {
            w.parse()
                .unwrap_or_else(|e| panic!("bad number {w:?} in {line:?}: {e}"))
        };
        if let (["ready", start], None) = (words.as_slice(), report.ready) {
            report.ready = Some(num(start));
            continue;
        }
        if let (["flushed", samples], Some(_)) = (words.as_slice(), report.ready) {
            report.flushes += 1;
            report.nonempty_flushes += usize::from(num(samples) > 0);
            continue;
        }
        if let (["gone", x], Some(_)) = (words.as_slice(), report.ready) {
            report.gone = report.gone.max(Some(num(x)));
            continue;
        }
        if let (["hack", ts], Some(_)) = (words.as_slice(), report.ready) {
            report.hacks.push(num(ts));
            continue;
        }
        if let (["compacting"], Some(_)) = (words.as_slice(), report.ready) {
            report.compacting = true;
            continue;
        }
        if let (["compacted", sets], Some(_)) = (words.as_slice(), report.ready) {
            report.compactions += usize::from(num(sets) > 0);
            report.compacting = false;
            continue;
        }
        let (["ack", tenant, thread, series, first, step, count], Some(_)) =
            (words.as_slice(), report.ready)
        else {
            panic!("unexpected line from child: {line:?}");
        };
        let ack = Ack {
            thread: num(thread) as u64,
            series: num(series) as u64,
            first: num(first),
            step: num(step),
            count: num(count) as u64,
        };
        assert!(
            ack.thread < WRITERS && ack.series < SERIES && ack.step > 0 && ack.count > 0,
            "nonsense ack line {line:?}"
        );
        assert_eq!(
            *tenant,
            format!("t{}", ack.thread % 2),
            "wrong tenant in {line:?}"
        );
        report.acks.push(ack);
    }
    report
}

/// Runs the child on `dir`, kills it `run_for` after it said it is ready (or after its
/// start, without `wait_ready`) and returns what it said.
/// `gone`: the newest doomed timestamp dropped so far (the child writes above it).
fn run_child(dir: &Path, seed: u64, run_for: Duration, wait_ready: bool, gone: i64) -> ChildReport {
    let mut command = Command::new(env!("CARGO_BIN_EXE_engine-crash-child"));
    command.arg(dir).arg(seed.to_string()).arg(gone.to_string());
    let ctx = format!("engine-crash-child seed {seed}");
    parse_output(&kill_child(command, run_for, wait_ready, &ctx))
}

/// Reads every sample back and checks each is well-formed; returns the timestamps stored
/// per (thread, series), ascending.
fn read_all(engine: &Engine, ctx: &str) -> BTreeMap<(u64, u64), Vec<i64>> {
    let tenants: Vec<String> = engine
        .tenants()
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert!(
        tenants
            .iter()
            .all(|t| t == "t0" || t == "t1" || t == "doomed" || t == "h"),
        "{ctx}: unexpected tenants {tenants:?}"
    );
    // Every series has a name: this matches all of them, and each must be named m.
    let any_name = Matcher::new("__name__", MatchOp::Regex, ".+").expect("matcher");
    let mut stored = BTreeMap::new();
    for t in 0..2u64 {
        let tenant = TenantId::new(&format!("t{t}")).expect("tenant id");
        let all = engine
            .select(&tenant, std::slice::from_ref(&any_name), i64::MIN, i64::MAX)
            .unwrap_or_else(|e| panic!("{ctx}: select on t{t} failed: {e}"));
        for s in all {
            assert!(
                s.labels.metric_name() == "m",
                "{ctx}: tenant t{t} has a series not named m: {}",
                s.labels
            );
            let labels = &s.labels;
            let field = |n: &str| -> u64 {
                labels
                    .get(n)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("{ctx}: series {labels} has a bad {n:?} label"))
            };
            let (thread, index) = (field("thread"), field("s"));
            assert!(
                labels.len() == 3 && thread < WRITERS && index < SERIES && thread % 2 == t,
                "{ctx}: unexpected series {labels} in tenant t{t}"
            );
            let mut ts = Vec::with_capacity(s.samples.len());
            for w in s.samples.windows(2) {
                assert!(
                    w[0].ts < w[1].ts,
                    "{ctx}: {labels} has timestamps out of order or twice: {} then {}",
                    w[0].ts,
                    w[1].ts
                );
            }
            for sample in &s.samples {
                let want = engine_value(thread, index, sample.ts);
                assert_eq!(
                    sample.value.to_bits(),
                    want.to_bits(),
                    "{ctx}: {labels} at {} holds {} ({:#018x}), the generator says {} ({:#018x})",
                    sample.ts,
                    sample.value,
                    sample.value.to_bits(),
                    want,
                    want.to_bits()
                );
                ts.push(sample.ts);
            }
            let old = stored.insert((thread, index), ts);
            assert!(old.is_none(), "{ctx}: series {labels} listed twice");
        }
    }
    stored
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rounds: usize = std::env::var("STRATA_ENGINE_CRASH_ROUNDS")
        .map(|v| {
            v.parse()
                .expect("STRATA_ENGINE_CRASH_ROUNDS must be a number")
        })
        .unwrap_or(30);
    let seed: u64 = std::env::var("STRATA_ENGINE_CRASH_SEED")
        .map(|v| {
            v.parse()
                .expect("STRATA_ENGINE_CRASH_SEED must be a number")
        })
        .unwrap_or_else(|_| rand::rng().random());
    println!("engine_crash: {rounds} rounds, STRATA_ENGINE_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().expect("create temp dir");
    let dir = tmp.path().join("engine");
    let started = Instant::now();

    // Every acknowledged timestamp over all rounds, per (thread, series), ascending: each
    // run starts above everything stored, and one thread writes a series in order.
    let mut acked: BTreeMap<(u64, u64), Vec<i64>> = BTreeMap::new();
    let mut per_round = Vec::with_capacity(rounds);
    let mut checked = 0u64;
    let mut waited_rounds = 0usize;
    let (mut flushes, mut nonempty_flushes, mut compactions) = (0usize, 0usize, 0usize);
    let mut killed_compacting = 0usize;
    let (mut max_gone, mut drops) = (None::<i64>, 0usize);
    let mut rounds_with_acks = 0usize;
    let mut unacked_found = 0u64;
    // Every acknowledged native histogram's timestamp over all rounds, ascending.
    let mut hacked: Vec<i64> = Vec::new();

    for round in 0..rounds {
        let child_seed: u64 = rng.random();
        let wait_ready = !rng.random_ratio(1, 6);
        let run_for = if wait_ready && rng.random_ratio(1, 3) {
            // Long enough for flushes, compactions and drops to complete too.
            Duration::from_millis(rng.random_range(300..=700))
        } else if wait_ready {
            Duration::from_millis(rng.random_range(20..=150))
        } else {
            Duration::from_millis(rng.random_range(0..=150))
        };
        let ctx = format!(
            "seed {seed}, round {round}, child seed {child_seed}, killed {run_for:?} after {}",
            if wait_ready { "ready" } else { "start" }
        );
        let report = run_child(&dir, child_seed, run_for, wait_ready, max_gone.unwrap_or(0));
        let acks = report.acks;
        flushes += report.flushes;
        nonempty_flushes += report.nonempty_flushes;
        compactions += report.compactions;
        killed_compacting += usize::from(report.compacting);
        if wait_ready {
            waited_rounds += 1;
            rounds_with_acks += usize::from(!acks.is_empty());
        }

        let mut round_samples = 0u64;
        for a in &acks {
            let ts = acked.entry((a.thread, a.series)).or_default();
            if let Some(&last) = ts.last() {
                assert!(
                    a.first > last,
                    "{ctx}: ack {a:?} is not above the last acknowledged ts {last}"
                );
            }
            ts.extend((0..a.count as i64).map(|i| a.first + i * a.step));
            round_samples += a.count;
        }
        per_round.push(round_samples);
        hacked.extend(&report.hacks);

        let engine = Engine::open(&dir, engine_crash_config())
            .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
        let stored = read_all(&engine, &ctx);
        max_gone = max_gone.max(report.gone);
        drops += usize::from(report.gone.is_some());
        if let Some(gone) = max_gone {
            // Dropped partitions never come back, whatever the kill interrupted.
            let doomed = TenantId::new("doomed").expect("tenant id");
            let back = engine
                .select(&doomed, &[], i64::MIN, gone)
                .unwrap_or_else(|e| panic!("{ctx}: select on doomed failed: {e}"));
            assert!(
                back.is_empty(),
                "{ctx}: samples of tenant doomed up to {gone} were dropped but read back: {:?}",
                back.iter().map(|s| s.samples.len()).collect::<Vec<_>>()
            );
        }
        for (&(thread, series), want) in &acked {
            let have = stored.get(&(thread, series)).map_or(&[][..], Vec::as_slice);
            // Both ascending: walk them together.
            let mut j = 0;
            for &ts in want {
                while j < have.len() && have[j] < ts {
                    j += 1;
                }
                if have.get(j) != Some(&ts) {
                    let (first, last) = (have.first(), have.last());
                    panic!(
                        "{ctx}: acknowledged sample m{{thread=\"{thread}\", s=\"{series}\"}} \
                         at ts {ts} (tenant t{}) is lost; the series holds {} samples, \
                         {first:?}..={last:?}",
                        thread % 2,
                        have.len()
                    );
                }
                checked += 1;
            }
        }
        check_histograms(&engine, &hacked, &ctx);
        // Every acknowledged sample was found once above, so the rest were written but
        // killed before their acknowledgement (over all rounds so far).
        let total_stored: u64 = stored.values().map(|v| v.len() as u64).sum();
        let acked_total: u64 = acked.values().map(|v| v.len() as u64).sum();
        unacked_found = total_stored - acked_total;
        engine
            .close()
            .unwrap_or_else(|e| panic!("{ctx}: close failed: {e}"));
    }

    let total: u64 = per_round.iter().sum();
    println!(
        "engine_crash summary: rounds={rounds} acked_samples={total} ack_checks={checked} \
         rounds_with_acks={rounds_with_acks}/{waited_rounds} flushes={nonempty_flushes}/{flushes} compactions={compactions} \
         killed_while_compacting={killed_compacting} rounds_with_drops={drops} \
         unacked_but_stored={unacked_found} acked_histograms={} \
         elapsed={:?} seed={seed}",
        hacked.len(),
        started.elapsed()
    );
    println!("engine_crash acked per round: {per_round:?}");
    if waited_rounds > 0 {
        assert!(total > 0, "the child never acknowledged anything");
        assert!(
            !hacked.is_empty(),
            "the child never acknowledged a histogram"
        );
        assert!(
            rounds_with_acks * 2 > waited_rounds,
            "only {rounds_with_acks} of {waited_rounds} rounds that ran past the open \
             acknowledged anything"
        );
    }
}

/// Checks tenant `h`'s native histograms: in strictly increasing time order, each the
/// generator's bit for bit, and every acknowledged one (`hacked`, ascending) there.
fn check_histograms(engine: &Engine, hacked: &[i64], ctx: &str) {
    let tenant = TenantId::new("h").expect("tenant id");
    let hm = Matcher::new("__name__", MatchOp::Equal, "hm").expect("matcher");
    let found = engine
        .select(&tenant, &[hm], i64::MIN, i64::MAX)
        .unwrap_or_else(|e| panic!("{ctx}: select on h failed: {e}"));
    assert!(
        found.len() <= 1,
        "{ctx}: tenant h has {} series",
        found.len()
    );
    let have = found.first().map_or(&[][..], |s| &s.histograms[..]);
    assert!(
        found.first().is_none_or(|s| s.samples.is_empty()),
        "{ctx}: hm has float samples"
    );
    for w in have.windows(2) {
        assert!(w[0].ts < w[1].ts, "{ctx}: hm out of order at {}", w[1].ts);
    }
    for s in have {
        assert_eq!(
            s.h.to_bytes(),
            engine_histogram(s.ts).to_bytes(),
            "{ctx}: hm at {} is not the generator's histogram",
            s.ts
        );
    }
    let mut j = 0;
    for &ts in hacked {
        while j < have.len() && have[j].ts < ts {
            j += 1;
        }
        assert!(
            have.get(j).is_some_and(|s| s.ts == ts),
            "{ctx}: acknowledged histogram hm at {ts} is lost ({} stored)",
            have.len()
        );
    }
}
