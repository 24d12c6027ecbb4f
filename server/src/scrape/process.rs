//! One scrape's body made into what is stored, as Prometheus's scrape loop makes it: the
//! target's labels joined to each sample's (`honor_labels`), `metric_relabel_configs`, the
//! limits, the scrape's timestamp unless the sample has its own (`honor_timestamps`), a
//! staleness marker for each series the previous scrape had and this one lacks, and the
//! report series (`up`, `scrape_duration_seconds`, ...).
//!
//! A series the target's cache ([`SeriesCache`]) holds is taken by the bytes that name it:
//! no labels decoded, joined or relabeled, and its handle (once known) spares the engine
//! its label checks. Only a series new to the target is decoded, checked and relabeled.

use strata_engine::{Exemplar, FamilyMetadata, Metadata, MetricType, SeriesExemplars};

use super::batch::Batch;
use super::cache::{Entry, SeriesCache};
use super::target::{LabelSet, Target};
use crate::ingest::exposition::proto::{self, Value};
use crate::ingest::exposition::{self, Format, MetricType as Kind};
use crate::relabel::Outcome;

/// Prometheus's staleness marker: a NaN no computation makes.
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// What one scrape made, beside the samples it put in its [`Batch`].
#[derive(Debug, Default)]
pub(crate) struct Made {
    pub(crate) exemplars: Vec<SeriesExemplars>,
    pub(crate) metadata: Vec<FamilyMetadata>,
    /// Samples in the body.
    pub(crate) scraped: u64,
    /// Samples left after `metric_relabel_configs`.
    pub(crate) post_relabel: u64,
    /// Series new to the target's cache.
    pub(crate) added: u64,
    /// Staleness markers written for series gone since the previous scrape.
    pub(crate) stale: u64,
    /// Samples of a series the body had already given (the first is kept).
    pub(crate) duplicates: u64,
}

/// Makes the samples of a scraped `body` (taken at `ts` ms) for `target` into `batch`,
/// with staleness markers for the series of the previous scrape it lacks, and updates
/// `cache`. An error fails the whole scrape: the caller clears `batch` and ends every
/// series ([`end_all`]), as Prometheus does.
pub(crate) fn process(
    target: &Target,
    body: &[u8],
    content_type: Option<&str>,
    ts: i64,
    cache: &mut SeriesCache,
    batch: &mut Batch,
) -> Result<Made, String> {
    let protobuf = is_protobuf(content_type);
    // A protobuf body's series are keyed by their text-format writing (see `proto_key`).
    let format = match protobuf {
        true => Format::Text,
        false => Format::from_content_type(content_type),
    };
    let generation = cache.begin(format);
    let mut made = Made::default();
    // A limit's error, which stops the reading (it carries no line, as Prometheus's).
    let mut over_limit = None;
    let line = Line {
        target,
        format,
        generation,
        ts,
    };
    let mut refused = |e: Refused| match e {
        Refused::Parse(e) => e,
        Refused::Limit(e) => {
            over_limit = Some(e);
            String::new()
        }
    };
    let scanned = if protobuf {
        let job = &target.job;
        let histograms = proto::Histograms {
            native: job.native_histograms,
            classic_too: job.classic_histograms,
        };
        proto::scan(body, histograms, |p| {
            made.scraped += 1;
            let key = proto_key(&p.name, &p.labels);
            let taken = Taken {
                series: key.as_bytes(),
                value: p.value,
                timestamp_ms: p.timestamp_ms,
                exemplars: p.exemplars,
            };
            let (name, labels) = (p.name, p.labels);
            line.take(taken, || Ok((name, labels)), cache, batch, &mut made)
                .map_err(&mut refused)
        })
    } else {
        exposition::scan(body, format, |mut s| {
            made.scraped += 1;
            let taken = Taken {
                series: s.series(),
                value: Value::Float(s.value),
                timestamp_ms: s.timestamp_ms,
                exemplars: s.exemplar.take().into_iter().collect(),
            };
            line.take(taken, || s.decode(), cache, batch, &mut made)
                .map_err(&mut refused)
        })
        .map_err(|e| e.to_string())
    };
    let families = match scanned {
        Ok(families) => families,
        Err(e) => return Err(over_limit.unwrap_or(e)),
    };
    for gone in cache.finish() {
        made.stale += 1;
        batch.push_series(
            cache,
            &gone.series,
            gone.known,
            None,
            stale_value(gone.histogram),
            ts,
        );
    }
    made.metadata = families
        .into_iter()
        .map(|f| FamilyMetadata {
            family: f.name,
            metadata: Metadata {
                kind: kind(f.kind),
                help: f.help.unwrap_or_default(),
                unit: f.unit.unwrap_or_default(),
            },
        })
        .collect();
    Ok(made)
}

/// Whether a `Content-Type` is Prometheus's protobuf format (`application/vnd.google.protobuf`
/// with `proto=io.prometheus.client.MetricFamily`).
fn is_protobuf(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mut parts = ct.split(';').map(str::trim);
    parts
        .next()
        .is_some_and(|m| m.eq_ignore_ascii_case("application/vnd.google.protobuf"))
        && parts.any(|p| p.eq_ignore_ascii_case("proto=io.prometheus.client.MetricFamily"))
}

/// The bytes a protobuf sample's series is cached under: its text-format writing with
/// every name quoted (`{"name","label"="value"}`), which decodes back to exactly this name
/// and these labels.
fn proto_key(name: &str, labels: &[(String, String)]) -> String {
    fn quoted(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let mut out = String::with_capacity(name.len() + 16 * labels.len() + 4);
    out.push('{');
    quoted(&mut out, name);
    for (n, v) in labels {
        out.push(',');
        quoted(&mut out, n);
        out.push('=');
        quoted(&mut out, v);
    }
    out.push('}');
    out
}

/// One sample as the scraper takes it, from either reader.
struct Taken<'s> {
    /// The bytes naming its series.
    series: &'s [u8],
    value: Value,
    timestamp_ms: Option<i64>,
    exemplars: Vec<exposition::Exemplar>,
}

/// Why a line failed the scrape.
enum Refused {
    /// The body is malformed (the reading adds the line number).
    Parse(String),
    /// A limit of the job.
    Limit(String),
}

/// What every line of one scrape shares.
struct Line<'t> {
    target: &'t Target,
    format: Format,
    generation: u64,
    ts: i64,
}

impl Line<'_> {
    /// One sample into `batch`: by the cache's entry for its bytes, or decoded
    /// (`decode`), relabeled and checked if the target never gave it before.
    fn take(
        &self,
        t: Taken<'_>,
        decode: impl FnOnce() -> Result<(String, Vec<(String, String)>), String>,
        cache: &mut SeriesCache,
        batch: &mut Batch,
        made: &mut Made,
    ) -> Result<(), Refused> {
        let job = &self.target.job;
        let series = t.series;
        let own_ts = t.timestamp_ms.filter(|_| job.honor_timestamps);
        let histogram = matches!(t.value, Value::Histogram(_));
        let mut labels = None;
        let (known, store) = if let Some(e) = cache.get_mut(series) {
            if e.dropped {
                e.seen = self.generation;
                return Ok(());
            }
            let store = self.admit(e, own_ts, histogram, made)?;
            (e.known, store)
        } else {
            let (name, decoded) = decode().map_err(Refused::Parse)?;
            let mut e = Entry::default();
            let Some(l) = make_labels(self.target, name, decoded) else {
                e.dropped = true;
                e.seen = self.generation;
                cache.insert(series, e);
                return Ok(());
            };
            check_labels(&l, job).map_err(Refused::Limit)?;
            let store = self.admit(&mut e, own_ts, histogram, made)?;
            cache.insert(series, e);
            made.added += 1;
            labels = Some(l);
            (None, store)
        };
        if !store {
            return Ok(());
        }
        let ts = own_ts.unwrap_or(self.ts);
        if !t.exemplars.is_empty() {
            let series_labels = match &labels {
                Some(l) => Some(l.clone()),
                None => labels_of(self.target, self.format, series),
            };
            if let Some(series_labels) = series_labels {
                made.exemplars.push(SeriesExemplars {
                    series: series_labels,
                    exemplars: t
                        .exemplars
                        .into_iter()
                        .map(|e| Exemplar {
                            labels: e.labels,
                            ts: e.timestamp_ms.unwrap_or(ts),
                            value: e.value,
                        })
                        .collect(),
                });
            }
        }
        batch.push_series(cache, series, known, labels, t.value, ts);
        Ok(())
    }

    /// Counts a sample kept by relabeling against `sample_limit`; false for a second
    /// sample of the same series in one body (the first is kept).
    fn admit(
        &self,
        e: &mut Entry,
        own_ts: Option<i64>,
        histogram: bool,
        made: &mut Made,
    ) -> Result<bool, Refused> {
        let job = &self.target.job;
        made.post_relabel += 1;
        if job.sample_limit > 0 && made.post_relabel > job.sample_limit {
            return Err(Refused::Limit(format!(
                "sample_limit exceeded (limit {})",
                job.sample_limit
            )));
        }
        if e.seen == self.generation {
            made.duplicates += 1;
            return Ok(false);
        }
        e.seen = self.generation;
        e.tracked_now = own_ts.is_none();
        e.histogram = histogram;
        Ok(true)
    }
}

/// The stored labels of the series named by `series` (bytes of a body in `format`) for
/// `target`; `None` when `metric_relabel_configs` drops it (or the bytes do not decode,
/// which cached bytes always do).
pub(crate) fn labels_of(target: &Target, format: Format, series: &[u8]) -> Option<LabelSet> {
    let (name, labels) = exposition::decode_series(series, format).ok()?;
    make_labels(target, name, labels)
}

/// A sample's name and labels joined to the target's and relabeled; `None` if dropped.
fn make_labels(target: &Target, name: String, labels: Vec<(String, String)>) -> Option<LabelSet> {
    let job = &target.job;
    let mut l: LabelSet = Vec::with_capacity(labels.len() + target.labels.len() + 1);
    l.push(("__name__".into(), name));
    l.extend(labels);
    join_target(&mut l, &target.labels, job.honor_labels);
    match job.metric_relabel.apply(&mut l) {
        Outcome::Dropped { .. } => None,
        Outcome::Kept => Some(l),
    }
}

/// A staleness marker: a float whose bits are Prometheus's stale NaN, or for a native
/// histogram series an empty histogram whose sum is (as Prometheus's head makes it).
pub(crate) fn stale_value(histogram: bool) -> Value {
    let nan = f64::from_bits(STALE_NAN);
    if !histogram {
        return Value::Float(nan);
    }
    Value::Histogram(strata_engine::Histogram {
        schema: 0,
        zero_threshold: 0.0,
        sum: nan,
        reset_hint: strata_engine::ResetHint::Unknown,
        positive_spans: Vec::new(),
        negative_spans: Vec::new(),
        custom_values: Vec::new(),
        counts: strata_engine::Counts::Int {
            count: 0,
            zero_count: 0,
            positive_deltas: Vec::new(),
            negative_deltas: Vec::new(),
        },
    })
}

/// Markers at `ts` for every series the last successful scrape had, into `batch`, and
/// the cache emptied: a failed scrape, or a target gone. Returns the count in a [`Made`].
pub(crate) fn end_all(cache: &mut SeriesCache, batch: &mut Batch, ts: i64) -> Made {
    let gone = cache.end_all();
    let stale = gone.len() as u64;
    for g in gone {
        batch.push_series(
            cache,
            &g.series,
            g.known,
            None,
            stale_value(g.histogram),
            ts,
        );
    }
    Made {
        stale,
        ..Made::default()
    }
}

/// Adds the target's labels to a sample's: with `honor_labels` the sample's win; without,
/// the target's win and a sample's label of the same name is kept as `exported_<name>`.
fn join_target(labels: &mut LabelSet, target: &LabelSet, honor: bool) {
    for (name, value) in target {
        let at = labels.iter().position(|(n, _)| n == name);
        match (at, honor) {
            (Some(_), true) => {}
            (Some(i), false) => {
                let mut exported = format!("exported_{name}");
                while labels.iter().any(|(n, _)| *n == exported) {
                    exported.insert_str(0, "exported_");
                }
                labels[i].0 = exported;
                labels.push((name.clone(), value.clone()));
            }
            (None, _) => labels.push((name.clone(), value.clone())),
        }
    }
}

fn check_labels(labels: &LabelSet, job: &super::config::Job) -> Result<(), String> {
    if job.label_limit > 0 && labels.len() as u64 > job.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
            name_of(labels),
            labels.len(),
            job.label_limit
        ));
    }
    for (n, v) in labels {
        if job.label_name_length_limit > 0 && n.len() as u64 > job.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {}, label name: {n}, length: {}, limit: {})",
                name_of(labels),
                n.len(),
                job.label_name_length_limit
            ));
        }
        if job.label_value_length_limit > 0 && v.len() as u64 > job.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {}, label name: {n}, value: {v:?}, length: {}, limit: {})",
                name_of(labels),
                v.len(),
                job.label_value_length_limit
            ));
        }
    }
    Ok(())
}

fn name_of(labels: &LabelSet) -> &str {
    labels
        .iter()
        .find(|(n, _)| n == "__name__")
        .map_or("", |(_, v)| v.as_str())
}

fn kind(k: Kind) -> MetricType {
    match k {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
        Kind::Histogram => MetricType::Histogram,
        Kind::GaugeHistogram => MetricType::GaugeHistogram,
        Kind::Summary => MetricType::Summary,
        Kind::Info => MetricType::Info,
        Kind::StateSet => MetricType::StateSet,
        Kind::Unknown => MetricType::Unknown,
    }
}

/// The report series of a scrape at `ts`, with the target's labels, into `batch`.
pub(crate) fn report(
    target: &Target,
    ts: i64,
    up: bool,
    duration_s: f64,
    made: &Made,
    batch: &mut Batch,
) {
    let values = [
        if up { 1.0 } else { 0.0 },
        duration_s,
        made.scraped as f64,
        made.post_relabel as f64,
        made.added as f64,
    ];
    for (labels, value) in report_labels(target).into_iter().zip(values) {
        batch.push_labels(labels, Value::Float(value), ts);
    }
}

/// The report series' labels, in [`report`]'s order: marked stale when the target goes.
pub(crate) fn report_labels(target: &Target) -> Vec<LabelSet> {
    [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ]
    .iter()
    .map(|name| {
        let mut labels = target.labels.clone();
        labels.push(("__name__".into(), (*name).into()));
        labels.sort();
        labels
    })
    .collect()
}
