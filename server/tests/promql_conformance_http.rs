//! Prometheus's own PromQL test scripts, the suite `query/tests/promql_conformance.rs` runs
//! against the evaluator, through the HTTP API of a query process and of a distributed
//! query process with two workers, over a bucket on a real S3-compatible server (moto,
//! installed by `.ci/test.sh`).
//!
//! A writer takes every `load` block over remote write 1.0 (floats, stale markers and
//! native histograms, the `load_with_nhcb` conversions included), one tenant
//! (`X-Scope-OrgID`) per list of loads an eval sees (`promql_http/plan.rs`), and mirrors
//! them to the bucket. Then every `eval` runs through `/api/v1/query` and
//! `/api/v1/query_range` of a query process (`--role query`) and of a distributed one
//! (`[cluster] workers`), each answer read back and checked by the engine runner's checks
//! (`query/tests/conformance/check.rs`), an instant eval again as a range query around its
//! time as there.
//!
//! The cases `query/tests/conformance/delayed_name_removal.txt` lists run on the two
//! workers instead (query processes too), configured with `promql.delayed_name_removal`.
//! A case that fails against the evaluator (`query/tests/conformance/expected_failures.txt`)
//! is a known failure here too; one that fails only over HTTP must be listed, with why, in
//! `promql_http/expected_failures.txt`. The test fails on an unlisted failure and on an
//! entry of that list that passes. What the HTTP API cannot carry (a histogram's spans and
//! reset hint, a stale marker) is left out of the comparison: see `promql_http/api.rs`.
//!
//! The suite is found as the engine-level test finds it (`STRATA_PROMQL_SUITE`, else
//! `../shared/conformance/promql` beside the repository); missing, the test is skipped
//! (failed with `CI=true`). `STRATA_PROMQL_FILE=name` runs the files whose name contains
//! `name`; `STRATA_PROMQL_VERBOSE=1` prints every failure.

#[path = "../../query/tests/conformance"]
mod conformance {
    //! The engine-level runner's parser, loads, checks and lists (its engine runner,
    //! `run.rs`, is not used here).
    #![allow(dead_code)]
    pub(crate) mod check;
    pub(crate) mod hist;
    pub(crate) mod lists;
    pub(crate) mod load;
    pub(crate) mod script;
}
#[path = "promql_http/api.rs"]
mod api;
mod common;
#[path = "promql_http/plan.rs"]
mod plan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use conformance::lists::{self, in_ci};
use conformance::script::parse_script;
use plan::{Case, Plan};
use strata_tests::moto::{Moto, free_port, storage_section};
use strata_tests::server::Server;

const BUCKET: &str = "strata-conformance";

/// strata-server's folder in the clone being tested (as `promql_conformance.rs` finds
/// strata-query's).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The repository's root.
fn repo() -> PathBuf {
    let server = manifest_dir();
    server.parent().map_or(server.clone(), PathBuf::from)
}

/// What every process shares: samples from 1970 on are neither too old nor out of order,
/// and the scripts' loads are not rate-limited.
fn common_config(port: u16) -> String {
    format!(
        "[retention]\nmetrics = \"73000d\"\n\
         [limits]\ningest_rate = 1000000000\ningest_burst = 1000000000\n\
         max_labels_per_series = 1000\nmax_active_series = 10000000\n\
         max_series_per_metric = 10000000\n\
         [engine]\nout_of_order_window = \"73000d\"\nflush_interval = \"1s\"\n\
         [wal]\ndurability = \"none\"\n{}",
        // Each query process reads every partition at once: moto on a busy machine may
        // take more than the usual 2 s to answer.
        storage_section(port, BUCKET, "conf").replace("\"2s\"", "\"30s\"")
    )
}

/// A reading process's config: its `[cluster]` and whether names are removed late.
fn reader_config(port: u16, cluster: &str, delayed: bool) -> String {
    format!(
        "[promql]\ndelayed_name_removal = {delayed}\n{}cache_bytes = 67108864\n[cluster]\n{cluster}\n",
        common_config(port)
    )
}

/// A process the evals run on.
struct Reader {
    name: &'static str,
    server: Server,
    /// Whether it removes names late (and runs the cases that ask for it, only those).
    delayed: bool,
}

/// The processes, dropped in this order: the readers, the writer, moto, the directories.
struct Processes {
    readers: Vec<Reader>,
    writer: Server,
    port: u16,
    _moto: Moto,
    dirs: Vec<tempfile::TempDir>,
}

/// Starts moto and the writer.
fn start_writer() -> Processes {
    let port = free_port();
    let moto = Moto::start(port, BUCKET);
    let dirs: Vec<_> = (0..5).map(|_| tempfile::tempdir().expect("dir")).collect();
    let writer = Server::start(common::bin(), dirs[0].path(), &common_config(port));
    writer.wait_ready(common::READY);
    Processes {
        readers: Vec::new(),
        writer,
        port,
        _moto: moto,
        dirs,
    }
}

/// Starts two workers, a query process spreading its SQL over them and one without: the
/// two query processes run the cases in the default mode, the workers (query processes
/// too, with `promql.delayed_name_removal`) those that ask for delayed name removal.
fn start_readers(p: &mut Processes) {
    let token = p.dirs[0].path().join("cluster-token");
    std::fs::write(&token, "cluster-token-0123456789").expect("token file");
    let token = format!("token_file = {:?}", token.display().to_string());
    let port = p.port;
    let start = |i: usize, cluster: &str, delayed: bool| {
        let config = reader_config(port, cluster, delayed);
        Server::start(common::bin(), p.dirs[i].path(), &config)
    };
    let worker = format!("role = \"worker\"\n{token}");
    let workers = [start(1, &worker, true), start(2, &worker, true)];
    let urls: Vec<String> = workers
        .iter()
        .map(|w| format!("\"http://{}\"", w.grpc))
        .collect();
    let distributed = format!(
        "role = \"query\"\nworkers = [{}]\nbytes_per_partition = 1\n{token}",
        urls.join(", ")
    );
    let single = start(3, "role = \"query\"", false);
    let distributed = start(4, &distributed, false);
    let [w1, w2] = workers;
    p.readers = vec![
        Reader {
            name: "query process",
            server: single,
            delayed: false,
        },
        Reader {
            name: "distributed query process",
            server: distributed,
            delayed: false,
        },
        Reader {
            name: "worker 1",
            server: w1,
            delayed: true,
        },
        Reader {
            name: "worker 2",
            server: w2,
            delayed: true,
        },
    ];
    for r in &p.readers {
        r.server.wait_ready(common::READY);
    }
}

/// The scripts to run, or why none (the suite is missing).
fn scripts() -> Result<Vec<PathBuf>, String> {
    let mut files = lists::scripts(&lists::testdata(&repo()))?;
    if let Ok(only) = std::env::var("STRATA_PROMQL_FILE") {
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(only.as_str()))
        });
        assert!(
            !files.is_empty(),
            "STRATA_PROMQL_FILE={only} matches no file"
        );
    }
    Ok(files)
}

fn plan(files: &[PathBuf]) -> Plan {
    let delayed =
        lists::read_delayed(&repo().join("query/tests/conformance/delayed_name_removal.txt"));
    let mut plan = Plan::default();
    for (n, path) in files.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("read script");
        let cmds =
            parse_script(&text).unwrap_or_else(|e| panic!("{name}: cannot parse script: {e}"));
        plan.add(
            n,
            &name,
            cmds,
            &delayed.get(&name).cloned().unwrap_or_default(),
        );
    }
    plan
}

/// A tenant's fingerprint on `server`: how many samples it holds (the sum of
/// `count_over_time` over every series and all time), or `None` before it holds any.
fn fingerprint(server: &Server, tenant: &plan::Tenant) -> Option<String> {
    let last = plan::last_ms(tenant)?;
    let q = format!("sum(count_over_time({{__name__=~\".+\"}}[{}ms]))", last + 1);
    let http = api::Http {
        server,
        tenant: &tenant.id,
    };
    let r = conformance::check::Backend::instant(&http, &q, last).ok()?;
    match r.value {
        strata_query::promql::Value::Vector(v) => v.first().map(|s| s.value.to_string()),
        _ => None,
    }
}

/// Writes every tenant.
fn write(p: &Processes, plan: &Plan) {
    let mut refused = Vec::new();
    for t in &plan.tenants {
        refused.extend(plan::write(&p.writer, t));
    }
    for r in &refused {
        println!("the writer refused: {r}");
    }
}

/// How long the readers may take to hold everything: the writer flushes and mirrors a few
/// thousand objects, and each reader reads them, all on a debug build and moto.
const MIRROR_DEADLINE: Duration = Duration::from_secs(240);

/// Waits until every reader holds what the writer holds (the readers side by side).
fn wait_mirrored(p: &Processes, plan: &Plan) {
    let want: Vec<Option<String>> = plan
        .tenants
        .iter()
        .map(|t| fingerprint(&p.writer, t))
        .collect();
    let deadline = Instant::now() + MIRROR_DEADLINE;
    std::thread::scope(|s| {
        for r in &p.readers {
            let want = &want;
            s.spawn(move || {
                for (t, want) in plan.tenants.iter().zip(want) {
                    let Some(want) = want else { continue };
                    while fingerprint(&r.server, t).as_ref() != Some(want) {
                        assert!(
                            Instant::now() < deadline,
                            "the {} does not hold tenant {} after {MIRROR_DEADLINE:?}",
                            r.name,
                            t.id
                        );
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            });
        }
    });
}

/// One case's outcome on one reader.
struct Outcome {
    reader: usize,
    case: usize,
    result: Result<(), String>,
}

/// Runs every case on every reader of its mode, on a few threads.
fn run(p: &Processes, plan: &Plan) -> Vec<Outcome> {
    let jobs: Vec<(usize, usize)> = p
        .readers
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            plan.cases
                .iter()
                .enumerate()
                .filter(move |(_, c)| c.delayed == r.delayed)
                .map(move |(c, _)| (i, c))
        })
        .collect();
    let out = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while let Some(&(reader, case)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let c: &Case = &plan.cases[case];
                    let http = api::Http {
                        server: &p.readers[reader].server,
                        tenant: &plan.tenants[c.tenant].id,
                    };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        conformance::check::run_eval(&http, &c.eval)
                    }))
                    .unwrap_or_else(|_| Err("panicked".into()));
                    out.lock().expect("lock").push(Outcome {
                        reader,
                        case,
                        result,
                    });
                }
            });
        }
    });
    out.into_inner().expect("lock")
}

/// Counts per reader and the problems: unlisted failures, and entries of the HTTP list
/// that pass.
fn report(p: &Processes, plan: &Plan, outcomes: &[Outcome]) -> Vec<String> {
    let engine =
        lists::read_expected(&repo().join("query/tests/conformance/expected_failures.txt"));
    let http_list = manifest_dir().join("tests/promql_http/expected_failures.txt");
    let http = lists::read_expected(&http_list);
    let verbose = std::env::var("STRATA_PROMQL_VERBOSE").is_ok();
    let mut problems = Vec::new();
    // Per reader: passed, failed as listed.
    let mut counts: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let c = &plan.cases[o.case];
        let key = (c.file.clone(), c.eval.line);
        let name = p.readers[o.reader].name;
        let n = counts.entry(o.reader).or_default();
        match &o.result {
            Ok(()) => {
                n.0 += 1;
                if let Some(why) = engine.get(&key) {
                    // Not a problem: the API carries less than the evaluator's result.
                    println!(
                        "note: {name}: {}:{} passes, but not against the evaluator ({why})",
                        key.0, key.1
                    );
                }
                if let Some(why) = http.get(&key) {
                    problems.push(format!(
                        "{name}: {}:{} passes but promql_http/expected_failures.txt lists it \
                         ({why}): remove it",
                        key.0, key.1
                    ));
                }
            }
            Err(e) => {
                if engine.contains_key(&key) || http.contains_key(&key) {
                    n.1 += 1;
                } else {
                    problems.push(format!("{name}: {}:{} fails: {e}", key.0, key.1));
                }
                if verbose {
                    println!("  {name}: {}:{}: {e}", key.0, key.1);
                }
            }
        }
    }
    for (r, (passed, known)) in counts {
        println!(
            "{}: {passed} passed, {known} known failures",
            p.readers[r].name
        );
    }
    problems
}

#[test]
fn the_conformance_scripts_pass_through_the_http_api_of_query_processes() {
    let files = match scripts() {
        Ok(files) => files,
        Err(why) => {
            assert!(!in_ci(), "CI=true, so a missing suite fails: {why}");
            println!("promql_conformance_http SKIPPED: {why}");
            return;
        }
    };
    let began = Instant::now();
    let plan = plan(&files);
    let mut p = start_writer();
    start_readers(&mut p);
    write(&p, &plan);
    wait_mirrored(&p, &plan);
    println!(
        "{} files, {} cases, {} tenants, loaded and mirrored in {:?}",
        files.len(),
        plan.cases.len(),
        plan.tenants.len(),
        began.elapsed()
    );
    let outcomes = run(&p, &plan);
    println!("evaluated in {:?}", began.elapsed());
    let problems = report(&p, &plan, &outcomes);
    for pr in &problems {
        println!("{pr}");
    }
    assert!(
        problems.is_empty(),
        "{} cases fail over HTTP only, or are listed and pass",
        problems.len()
    );
}
