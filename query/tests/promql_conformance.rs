//! Prometheus's own PromQL test scripts (`testdata/*.test` of the suite below, read
//! unchanged) against strata-query's evaluator over a real `strata_engine::Engine`.
//!
//! The scripts are not in this repository. `STRATA_PROMQL_SUITE` names the directory that
//! holds their `testdata/` folder (a copy of Prometheus's `promql/promqltest/testdata`,
//! kept with its licence and provenance in the project's shared folder); unset, it is `../shared/conformance/promql` beside the
//! repository's root. When that folder is missing, the test prints that it is skipped, why,
//! and which variable to set, and passes; with `CI=true` (set by `.ci/run`) a missing suite
//! fails the test instead, so CI never passes without running it.
//!
//! Prints `file: N passed, M failed` per file and a total. Cases listed in
//! `tests/conformance/expected_failures.txt` are run too and count as known failures. The
//! test fails when an unlisted case fails or a listed case passes (then shorten the list).
//! Native histograms are loaded with `Engine::write_histograms`, and in the bucket mode read
//! back from the flushed Parquet files like floats. `STRATA_PROMQL_BLESS=1` rewrites
//! the list from the current results; `STRATA_PROMQL_FILE=name` runs one file;
//! `STRATA_PROMQL_VERBOSE=1` prints every failure.
//!
//! Name removal: Strata's default is Prometheus's (a function or operator drops
//! `__name__` itself), but Prometheus's test engine runs every script with delayed name
//! removal on (`promqltest.NewTestEngine` sets `EnableDelayedNameRemoval: true`). The
//! scripts run in Strata's default mode, except the cases listed in
//! `tests/conformance/delayed_name_removal.txt`, which run with
//! `QueryOptions::delayed_name_removal`: `name_label_dropping.test` whole (it tests that
//! mode), and single cases whose expected answer holds only in that mode. A case listed
//! by line that passes in the default mode too is reported, so the list stays minimal.

mod conformance;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use conformance::lists::{self, in_ci};
use conformance::run::{CaseResult, Mode, run_script};
use conformance::script::parse_script;

/// strata-query's folder in the clone being tested: the `CARGO_MANIFEST_DIR` that cargo and
/// nextest set when they run the test, not the one compiled in (a target directory shared
/// by several clones may hold a binary built in another).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The list of cases that do not pass yet, in this clone.
fn expected_path() -> PathBuf {
    manifest_dir().join("tests/conformance/expected_failures.txt")
}

/// Files that test opt-in extensions Strata does not build yet; their failures are listed
/// with this reason.
const EXTENSION_FILES: [&str; 5] = [
    "name_label_dropping.test",
    "type_and_unit.test",
    "fill-modifier.test",
    "limit.test",
    "start_timestamps.test",
];

/// The cases that run with delayed name removal, by file (see the module docs).
fn delayed_path() -> PathBuf {
    manifest_dir().join("tests/conformance/delayed_name_removal.txt")
}

fn reason_for(file: &str, r: &CaseResult) -> String {
    if let Some(msg) = r.detail.strip_prefix("parse error: ") {
        let msg: String = msg.chars().take(120).collect();
        return format!("parser: {}", msg.replace(['\t', '\n'], " "));
    }
    if file == "start_timestamps.test" {
        return "opt-in extension (start_timestamps.test): Prometheus's st-storage / \
                use-start-timestamps feature flags (start timestamps of samples), not built"
            .to_string();
    }
    if EXTENSION_FILES.contains(&file) {
        return format!("opt-in extension ({file}) not built yet");
    }
    let mut d: String = r.detail.chars().take(160).collect();
    d = d.replace(['\t', '\n'], " ");
    format!("not yet: {d}")
}

#[test]
fn promql_conformance() {
    conformance(Mode::Local);
}

/// The same scripts read from a bucket, as a query process (`--role query`) reads it: a
/// writer mirroring to the in-memory store, flushed and mirrored after each load, and the
/// evals run on a reader engine of that store. The same cases pass.
#[test]
fn promql_conformance_from_a_bucket() {
    conformance(Mode::Bucket);
}

fn conformance(mode: Mode) {
    let query = manifest_dir();
    let dir = lists::testdata(query.parent().unwrap_or(&query));
    let mut files = match lists::scripts(&dir) {
        Ok(files) => files,
        Err(why) => {
            assert!(!in_ci(), "CI=true, so a missing suite fails: {why}");
            println!("promql_conformance SKIPPED: {why}");
            return;
        }
    };
    let only = std::env::var("STRATA_PROMQL_FILE").ok();
    let bless = std::env::var("STRATA_PROMQL_BLESS").is_ok();
    let verbose = std::env::var("STRATA_PROMQL_VERBOSE").is_ok();
    if let Some(o) = &only {
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(o.as_str()))
        });
        assert!(
            !files.is_empty(),
            "STRATA_PROMQL_FILE={o} matches no file in {}",
            dir.display()
        );
    }
    let delayed = lists::read_delayed(&delayed_path());
    let results: Mutex<BTreeMap<String, Vec<CaseResult>>> = Mutex::new(BTreeMap::new());
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = files.get(i) else { break };
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let text = std::fs::read_to_string(path).expect("read script");
                    let cmds = parse_script(&text)
                        .unwrap_or_else(|e| panic!("{name}: cannot parse script: {e}"));
                    let delayed_mode = delayed.get(&name).cloned().unwrap_or_default();
                    let r = run_script(&cmds, &delayed_mode, mode);
                    results.lock().expect("lock").insert(name, r);
                }
            });
        }
    });
    let results = results.into_inner().expect("lock");
    let expected = lists::read_expected(&expected_path());
    let mut problems = Vec::new();
    let mut blessed = String::from(
        "# PromQL conformance cases that do not pass yet: file:line<TAB>fail<TAB>reason.\n\
         # Regenerate with\n\
         # STRATA_PROMQL_BLESS=1 cargo test -p strata-query --test promql_conformance\n",
    );
    let (mut tp, mut tf) = (0, 0);
    for (file, cases) in &results {
        let (mut p, mut f) = (0, 0);
        for c in cases {
            let key = (file.clone(), c.line);
            let listed = expected.get(&key);
            if c.passes_by_default == Some(true) {
                problems.push(format!(
                    "{file}:{} passes without delayed name removal too: remove it from delayed_name_removal.txt",
                    c.line
                ));
            }
            if c.passed {
                p += 1;
                if let Some(reason) = listed {
                    problems.push(format!(
                        "{file}:{} passes now but is listed ({reason}): remove it from expected_failures.txt",
                        c.line
                    ));
                }
            } else {
                let reason = match listed {
                    Some(reason) => reason.clone(),
                    None => reason_for(file, c),
                };
                f += 1;
                blessed.push_str(&format!("{file}:{}\tfail\t{reason}\n", c.line));
                if listed.is_none() {
                    problems.push(format!(
                        "{file}:{} fails and is not listed: {}",
                        c.line, c.detail
                    ));
                }
                if verbose {
                    println!("  {file}:{}: {}", c.line, c.detail);
                }
            }
        }
        println!("{file}: {p} passed, {f} failed");
        tp += p;
        tf += f;
    }
    println!("conformance ({mode:?}): {tp} passed, {tf} failed");
    if bless && mode == Mode::Bucket {
        return;
    }
    if bless {
        if only.is_some() {
            panic!("STRATA_PROMQL_BLESS needs all files (unset STRATA_PROMQL_FILE)");
        }
        std::fs::write(expected_path(), blessed).expect("write expected_failures.txt");
        return;
    }
    if !problems.is_empty() {
        for p in &problems {
            println!("{p}");
        }
        panic!(
            "{} conformance regressions or stale list entries",
            problems.len()
        );
    }
}
