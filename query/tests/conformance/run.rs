//! Runs parsed scripts against a real `strata_engine::Engine` and checks each eval.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use strata_engine::{
    Engine, EngineConfig, Histogram, HistogramSample, Limits, Sample as ESample, SeriesHistograms,
    SeriesSamples, TenantId,
};
use strata_query::promql::native::FloatHistogram;
use strata_query::promql::{
    EngineSource, Labels, PromqlEngine, QueryOptions, QueryResult, SeriesSource, Value,
    is_stale_nan,
};
use strata_wal::{Durability, WalOptions};

use super::hist::{self, Classic, HistPoint};
use super::script::{Command, Eval, EvalKind, Pattern, PointV, SeriesLine};

/// Outcome of one eval.
pub(crate) struct CaseResult {
    pub(crate) line: usize,
    pub(crate) passed: bool,
    pub(crate) detail: String,
    /// For a case run with delayed name removal because it is listed by line: whether it
    /// passes in the default mode too (then the listing is not needed).
    pub(crate) passes_by_default: Option<bool>,
}

/// Which evals of a script run with delayed name removal
/// ([`QueryOptions::delayed_name_removal`]); the others run in the default mode.
#[derive(Debug, Clone, Default)]
pub(crate) struct DelayedCases {
    /// Every eval of the script.
    pub(crate) whole_file: bool,
    /// The evals at these lines.
    pub(crate) lines: std::collections::BTreeSet<usize>,
}

fn engine_config() -> EngineConfig {
    EngineConfig {
        wal: WalOptions {
            durability: Durability::None,
            ..WalOptions::default()
        },
        out_of_order_window: Duration::from_secs(100 * 365 * 86_400),
        limits: Limits {
            max_active_series: 10_000_000,
            max_series_per_metric: 10_000_000,
            ingest_rate: 1e12,
            ingest_burst: 1e12,
            max_labels_per_series: 1000,
            // Scripts write samples from 1970 on.
            metrics_retention: Duration::from_secs(200 * 365 * 86_400),
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// Where the evals read: the engine the data was written to, or a reader of the bucket
/// that engine mirrors to (`docs/scale-out.md`), as a query process reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The writing engine, its head and files.
    Local,
    /// A reader engine over the in-memory bucket the writer mirrors to; before an eval
    /// that follows a load, the writer flushes and mirrors and the reader refreshes.
    Bucket,
}

struct Store {
    dir: tempfile::TempDir,
    engine: Option<Engine>,
    /// [`Mode::Bucket`]: the reader the evals read, and whether a load is not in it yet.
    reader: Option<Engine>,
    stale: bool,
    mode: Mode,
}

impl Store {
    fn open(mode: Mode) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = engine_config();
        let mut reader = None;
        if mode == Mode::Bucket {
            let bucket: std::sync::Arc<dyn object_store::ObjectStore> =
                std::sync::Arc::new(object_store::memory::InMemory::new());
            let mut remote = strata_engine::RemoteConfig::new(bucket.clone(), "c");
            remote.interval = Duration::from_secs(3600);
            config.remote = Some(remote);
            let mut read = strata_engine::ReaderConfig::new(bucket, "c");
            read.refresh = Duration::from_secs(3600);
            reader = Some(EngineConfig {
                reader: Some(read),
                ..engine_config()
            });
        }
        let engine = Engine::open(dir.path().join("data"), config).expect("open engine");
        let reader = reader.map(|c| Engine::open(dir.path().join("cache"), c).expect("reader"));
        Self {
            dir,
            engine: Some(engine),
            reader,
            stale: false,
            mode,
        }
    }

    fn clear(&mut self) {
        for e in [self.reader.take(), self.engine.take()]
            .into_iter()
            .flatten()
        {
            e.close().expect("close engine");
        }
        *self = Store::open(self.mode);
    }

    /// The engine evals read: the writer, or the reader once it holds every load.
    fn source(&mut self) -> Option<&Engine> {
        if self.mode == Mode::Local {
            return self.engine.as_ref();
        }
        if std::mem::take(&mut self.stale) {
            let writer = self.engine.as_ref()?;
            writer.flush().expect("flush");
            writer.sync_remote().expect("mirror");
            self.reader.as_ref()?.refresh().expect("refresh");
        }
        self.reader.as_ref()
    }

    fn load(&mut self, tenant: &TenantId, interval: i64, nhcb: bool, series: &[SeriesLine]) {
        let mut batch = Vec::new();
        // In one block, a repeated series replaces the earlier line.
        let mut last: HashMap<&Labels, usize> = HashMap::new();
        for (i, s) in series.iter().enumerate() {
            last.insert(&s.labels, i);
        }
        let mut hbatch: Vec<SeriesHistograms> = Vec::new();
        let pairs = |l: &Labels| -> Vec<(String, String)> {
            l.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        let sample = |ts: i64, h: &FloatHistogram| HistogramSample {
            ts,
            h: Arc::new(Histogram::from(h)),
        };
        // `load_with_nhcb`: classic histograms by base series and timestamp.
        let mut classic: HashMap<Labels, BTreeMap<i64, Classic>> = HashMap::new();
        for (i, s) in series.iter().enumerate() {
            if last.get(&s.labels) != Some(&i) {
                continue;
            }
            let at = |i: usize| i as i64 * interval;
            if s.histogram {
                let histograms = s
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| match v {
                        Some(PointV::H(h)) => Some(sample(at(i), &h.h)),
                        _ => None,
                    })
                    .collect();
                hbatch.push(SeriesHistograms {
                    labels: pairs(&s.labels),
                    histograms,
                });
            }
            let floats = || {
                s.values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.as_ref()?.float().map(|f| (at(i), f)))
            };
            if nhcb {
                let name = s.labels.name();
                let suffix = ["_bucket", "_count", "_sum"]
                    .into_iter()
                    .find_map(|suf| name.strip_suffix(suf).map(|b| (suf, b)));
                if let Some((suf, base)) = suffix {
                    let mut l = s.labels.clone();
                    l.remove("le");
                    l.set("__name__".into(), base.to_string());
                    let le = s.labels.get("le").parse::<f64>().ok();
                    if suf != "_bucket" || le.is_some_and(|le| !le.is_nan()) {
                        let per_ts = classic.entry(l).or_default();
                        for (ts, f) in floats() {
                            let c = per_ts.entry(ts).or_default();
                            match (suf, le) {
                                ("_bucket", Some(le)) => c.buckets.push((le, f)),
                                ("_count", _) => c.count = Some(f),
                                _ => c.sum = Some(f),
                            }
                        }
                    }
                }
            }
            let samples: Vec<ESample> = floats().map(|(ts, value)| ESample { ts, value }).collect();
            if s.labels.name().is_empty() || samples.is_empty() {
                continue;
            }
            batch.push(SeriesSamples {
                labels: s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                samples,
            });
        }
        for (labels, per_ts) in classic {
            let histograms = per_ts
                .iter()
                .filter_map(|(ts, c)| hist::nhcb(c).map(|h| sample(*ts, &h)))
                .collect();
            hbatch.push(SeriesHistograms {
                labels: pairs(&labels),
                histograms,
            });
        }
        self.stale = true;
        if let Some(e) = &self.engine {
            let outcome = e.write(tenant, &batch).expect("write");
            if !outcome.rejected.is_empty() {
                eprintln!("engine rejected samples: {:?}", outcome.messages);
            }
            let outcome = e
                .write_histograms(tenant, &hbatch)
                .expect("write histograms");
            if !outcome.rejected.is_empty() {
                eprintln!("engine rejected histograms: {:?}", outcome.messages);
            }
        }
    }
}

fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < 1e-6 * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

fn pattern_matches(p: &Pattern, text: &str) -> bool {
    match p {
        Pattern::Any => true,
        Pattern::Exact(m) => m == text,
        // Unanchored, as Prometheus's test.go (`regexp.MatchString`).
        Pattern::Regex(r) => Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

fn check_annotations(
    kind: &str,
    want: &[Pattern],
    none: bool,
    got: &[String],
) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("expected no {kind}, got {got:?}"));
    }
    if want.is_empty() {
        return Ok(());
    }
    for p in want {
        if !got.iter().any(|g| pattern_matches(p, g)) {
            return Err(format!("expected {kind} {p:?}, got {got:?}"));
        }
    }
    for g in got {
        if !want.iter().any(|p| pattern_matches(p, g)) {
            return Err(format!("unexpected {kind} {g:?}"));
        }
    }
    Ok(())
}

/// Compares a matrix against expected series with points at `start + i*step`: the floats
/// and the histograms separately, as Prometheus's `compareResult`.
fn check_matrix(
    got: &[strata_query::promql::Series],
    want: &[SeriesLine],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut matched = 0;
    for w in want {
        let Some(g) = got.iter().find(|g| g.labels == w.labels) else {
            return Err(format!("missing series {}", w.labels));
        };
        matched += 1;
        let at = |i: usize| start + i as i64 * step;
        let exp: Vec<(i64, f64)> = w
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref()?.float().map(|v| (at(i), v)))
            .collect();
        let exp_h: Vec<(i64, &HistPoint)> = w
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Some(PointV::H(h)) => Some((at(i), h)),
                _ => None,
            })
            .collect();
        if exp.len() != g.points.len()
            || exp
                .iter()
                .zip(&g.points)
                .any(|(e, p)| e.0 != p.0 || !almost_equal(e.1, p.1))
        {
            return Err(format!(
                "series {}: expected {exp:?}, got {:?}",
                w.labels, g.points
            ));
        }
        if exp_h.len() != g.hpoints.len()
            || exp_h
                .iter()
                .zip(&g.hpoints)
                .any(|(e, p)| e.0 != p.0 || !hist::matches(e.1, &p.1, almost_equal))
        {
            return Err(format!(
                "series {}: expected histograms {:?}, got {:?}",
                w.labels,
                exp_h.iter().map(|(t, h)| (t, &h.h)).collect::<Vec<_>>(),
                g.hpoints
            ));
        }
    }
    if matched != got.len() {
        let extra: Vec<String> = got
            .iter()
            .filter(|g| !want.iter().any(|w| w.labels == g.labels))
            .map(|g| g.labels.to_string())
            .collect();
        return Err(format!("unexpected series {extra:?}"));
    }
    Ok(())
}

/// Whether a result's sample (float `value`, or histogram `h`) is the expected point.
fn point_matches(want: &[Option<PointV>], value: f64, h: Option<&Arc<FloatHistogram>>) -> bool {
    match (want, h) {
        ([Some(PointV::F(x))], None) => almost_equal(*x, value),
        ([Some(PointV::H(e))], Some(h)) => hist::matches(e, h, almost_equal),
        _ => false,
    }
}

fn check_result(ev: &Eval, res: &QueryResult) -> Result<(), String> {
    check_annotations("warn", &ev.warn, ev.no_warn, &res.warnings)?;
    check_annotations("info", &ev.info, ev.no_info, &res.infos)?;
    match &res.value {
        Value::Scalar { value, .. } => match ev.scalar {
            Some(w) if almost_equal(w, *value) => Ok(()),
            w => Err(format!(
                "expected {w:?}/{} series, got scalar {value}",
                ev.series.len()
            )),
        },
        Value::String { value, .. } => match &ev.string {
            Some(w) if w == value => Ok(()),
            w => Err(format!("expected {w:?}, got string {value:?}")),
        },
        Value::Vector(v) => {
            if ev.scalar.is_some() || ev.string.is_some() || ev.range_vector.is_some() {
                return Err(format!("expected another type, got vector {v:?}"));
            }
            if v.len() != ev.series.len() {
                return Err(format!(
                    "expected {} samples, got {}: {:?}",
                    ev.series.len(),
                    v.len(),
                    v.iter()
                        .map(|s| (s.labels.to_string(), s.value, s.h.is_some()))
                        .collect::<Vec<_>>()
                ));
            }
            for (i, w) in ev.series.iter().enumerate() {
                let found = if ev.ordered {
                    v.get(i).filter(|s| s.labels == w.labels)
                } else {
                    v.iter().find(|s| s.labels == w.labels)
                };
                let Some(s) = found else {
                    return Err(format!(
                        "expected {} (at {i}), got {:?}",
                        w.labels,
                        v.iter().map(|s| s.labels.to_string()).collect::<Vec<_>>()
                    ));
                };
                if !point_matches(&w.values, s.value, s.h.as_ref()) {
                    return Err(format!(
                        "{}: expected {:?}, got {} {:?}",
                        w.labels, w.values, s.value, s.h
                    ));
                }
            }
            Ok(())
        }
        Value::Matrix(m) => {
            let (start, step) = match (&ev.kind, ev.range_vector) {
                (_, Some((a, _, c))) => (a, c),
                (Some(EvalKind::Range { start, step, .. }), None) => (*start, *step),
                _ => return Err("got a range vector, expected none".into()),
            };
            check_matrix(m, &ev.series, start, step)
        }
    }
}

fn uses_query_time_fns(expr: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| expr.contains(f))
}

/// The reference runner's extra check: an instant eval re-run as a range query around `t`.
fn check_as_range(
    ev: &Eval,
    promql: &PromqlEngine,
    src: &dyn SeriesSource,
    t: i64,
    inst: &QueryResult,
) -> Result<(), String> {
    let res = promql
        .range(src, &ev.expr, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("as range query: {e}"))?;
    let Value::Matrix(m) = res.value else {
        return Err("range query did not return a matrix".into());
    };
    type At = (Labels, f64, Option<Arc<FloatHistogram>>);
    let at_t: Vec<At> = m
        .iter()
        .filter_map(|s| {
            let f = s.points.iter().find(|p| p.0 == t).map(|p| (p.1, None));
            let h = || {
                s.hpoints
                    .iter()
                    .find(|p| p.0 == t)
                    .map(|p| (0.0, Some(p.1.clone())))
            };
            f.or_else(h).map(|(v, h)| (s.labels.clone(), v, h))
        })
        .collect();
    let want: Vec<At> = match &inst.value {
        Value::Scalar { value, .. } => vec![(Labels::default(), *value, None)],
        Value::Vector(v) => v
            .iter()
            .map(|s| (s.labels.clone(), s.value, s.h.clone()))
            .collect(),
        _ => return Ok(()),
    };
    let same = |a: &At, b: &At| {
        a.0 == b.0
            && match (&a.2, &b.2) {
                (None, None) => almost_equal(a.1, b.1),
                (Some(x), Some(y)) => hist::matches(
                    &HistPoint {
                        h: x.clone(),
                        hint_set: false,
                    },
                    y,
                    almost_equal,
                ),
                _ => false,
            }
    };
    if want.len() != at_t.len() || want.iter().any(|w| !at_t.iter().any(|g| same(w, g))) {
        return Err(format!(
            "as range query at t: expected {want:?}, got {at_t:?}"
        ));
    }
    Ok(())
}

fn run_eval(ev: &Eval, promql: &PromqlEngine, src: &dyn SeriesSource) -> Result<(), String> {
    let res = match &ev.kind {
        Some(EvalKind::Instant { at }) => {
            let t = ev.range_vector.map_or(*at, |(_, end, _)| end);
            promql.instant(src, &ev.expr, t)
        }
        Some(EvalKind::Range { start, end, step }) => {
            promql.range(src, &ev.expr, *start, *end, *step)
        }
        None => return Err("no eval kind".into()),
    };
    match (&ev.fail, res) {
        (Some(p), Err(e)) => {
            if pattern_matches(p, &e.to_string()) {
                Ok(())
            } else {
                Err(format!("expected error {p:?}, got {e}"))
            }
        }
        (Some(_), Ok(r)) => Err(format!("expected an error, got {:?}", r.value)),
        (None, Err(e @ strata_query::promql::Error::Parse(_))) => Err(format!("parse error: {e}")),
        (None, Err(e)) => Err(format!("error: {e}")),
        (None, Ok(r)) => {
            check_result(ev, &r)?;
            if let Some(EvalKind::Instant { at }) = &ev.kind
                && !ev.ordered
                && ev.range_vector.is_none()
                && ev.string.is_none()
                && !uses_query_time_fns(&ev.expr)
            {
                check_as_range(ev, promql, src, *at, &r)?;
            }
            Ok(())
        }
    }
}

/// Runs a script; one result per eval. The evals `delayed` names run with delayed name
/// removal, the others in the default mode.
pub(crate) fn run_script(cmds: &[Command], delayed: &DelayedCases, mode: Mode) -> Vec<CaseResult> {
    let tenant = TenantId::default_tenant();
    let promql = PromqlEngine::new(QueryOptions::default());
    let promql_delayed = PromqlEngine::new(QueryOptions {
        delayed_name_removal: true,
        ..QueryOptions::default()
    });
    let mut store = Store::open(mode);
    let mut out = Vec::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => store.clear(),
            Command::Load {
                interval,
                nhcb,
                series,
            } => store.load(&tenant, *interval, *nhcb, series),
            Command::Eval(ev) => {
                let Some(engine) = store.source() else {
                    continue;
                };
                let src = EngineSource::new(engine, &tenant);
                let run = |p: &PromqlEngine| {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_eval(ev, p, &src)))
                        .unwrap_or_else(|_| Err("panicked".into()))
                };
                let listed = delayed.lines.contains(&ev.line);
                let r = run(if listed || delayed.whole_file {
                    &promql_delayed
                } else {
                    &promql
                });
                out.push(CaseResult {
                    line: ev.line,
                    passed: r.is_ok(),
                    detail: r.err().unwrap_or_default(),
                    passes_by_default: listed.then(|| run(&promql).is_ok()),
                });
            }
        }
    }
    let _ = &store.dir;
    for e in [store.reader.take(), store.engine.take()]
        .into_iter()
        .flatten()
    {
        let _ = e.close();
    }
    out
}
