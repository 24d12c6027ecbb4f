//! One scrape's body made into what is stored, as Prometheus's scrape loop makes it: the
//! target's labels joined to each sample's (`honor_labels`), `metric_relabel_configs`, the
//! limits, the scrape's timestamp unless the sample has its own (`honor_timestamps`), a
//! staleness marker for each series the previous scrape had and this one lacks, and the
//! report series (`up`, `scrape_duration_seconds`, ...).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use strata_engine::{
    Exemplar, FamilyMetadata, Metadata, MetricType, Sample, SeriesExemplars, SeriesSamples,
};

use super::target::{LabelSet, Target};
use crate::ingest::exposition::{self, Format, MetricType as Kind, Parsed};
use crate::relabel::Outcome;

/// Prometheus's staleness marker: a NaN no computation makes.
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// The series of a target's last successful scrape without timestamps of their own, by a
/// hash of their labels: those missing from the next scrape get a staleness marker.
pub(crate) type SeriesCache = HashMap<u64, LabelSet>;

/// What one scrape makes.
#[derive(Debug, Default)]
pub(crate) struct Made {
    pub(crate) series: Vec<SeriesSamples>,
    pub(crate) exemplars: Vec<SeriesExemplars>,
    pub(crate) metadata: Vec<FamilyMetadata>,
    /// Samples in the body.
    pub(crate) scraped: u64,
    /// Samples left after `metric_relabel_configs`.
    pub(crate) post_relabel: u64,
    /// Series not in the previous scrape.
    pub(crate) added: u64,
    /// Staleness markers written for series gone since the previous scrape.
    pub(crate) stale: u64,
    /// Samples of a series the body had already given (the first is kept).
    pub(crate) duplicates: u64,
}

/// Makes the series of a scraped `body` (taken at `ts` ms) for `target`, updating `cache`
/// to its series; an error fails the whole scrape (nothing of it is stored, and every
/// series of the previous scrape is marked stale, as Prometheus does).
pub(crate) fn process(
    target: &Target,
    body: &[u8],
    content_type: Option<&str>,
    ts: i64,
    cache: &mut SeriesCache,
) -> Result<Made, String> {
    let format = Format::from_content_type(content_type);
    let parsed: Parsed = exposition::parse(body, format).map_err(|e| e.to_string())?;
    let job = &target.job;
    let mut made = Made {
        scraped: parsed.samples.len() as u64,
        ..Made::default()
    };
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(parsed.samples.len());
    let mut fresh = SeriesCache::with_capacity(cache.len());
    for s in parsed.samples {
        let mut labels: LabelSet = Vec::with_capacity(s.labels.len() + target.labels.len() + 1);
        labels.push(("__name__".into(), s.name));
        labels.extend(s.labels);
        join_target(&mut labels, &target.labels, job.honor_labels);
        if let Outcome::Dropped { .. } = job.metric_relabel.apply(&mut labels) {
            continue;
        }
        check_labels(&labels, job)?;
        made.post_relabel += 1;
        if job.sample_limit > 0 && made.post_relabel > job.sample_limit {
            return Err(format!(
                "sample_limit exceeded (limit {})",
                job.sample_limit
            ));
        }
        let own_ts = s.timestamp_ms.filter(|_| job.honor_timestamps);
        let key = hash(&labels);
        if seen.contains_key(&key) {
            made.duplicates += 1;
            continue;
        }
        seen.insert(key, made.series.len());
        if own_ts.is_none() {
            if !cache.contains_key(&key) {
                made.added += 1;
            }
            fresh.insert(key, labels.clone());
        }
        let sample_ts = own_ts.unwrap_or(ts);
        if let Some(e) = s.exemplar {
            made.exemplars.push(SeriesExemplars {
                series: labels.clone(),
                exemplars: vec![Exemplar {
                    labels: e.labels,
                    ts: e.timestamp_ms.unwrap_or(sample_ts),
                    value: e.value,
                }],
            });
        }
        made.series.push(SeriesSamples {
            labels,
            samples: vec![Sample {
                ts: sample_ts,
                value: s.value,
            }],
        });
    }
    for (key, labels) in cache.drain() {
        if !fresh.contains_key(&key) {
            made.stale += 1;
            made.series.push(stale(labels, ts));
        }
    }
    *cache = fresh;
    made.metadata = parsed
        .families
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

/// A staleness marker at `ts` for the series `labels`.
pub(crate) fn stale(labels: LabelSet, ts: i64) -> SeriesSamples {
    SeriesSamples {
        labels,
        samples: vec![Sample {
            ts,
            value: f64::from_bits(STALE_NAN),
        }],
    }
}

/// Markers for every series of `cache`, which it leaves empty: a failed scrape, or a
/// target gone.
pub(crate) fn all_stale(cache: &mut SeriesCache, ts: i64) -> Vec<SeriesSamples> {
    cache.drain().map(|(_, l)| stale(l, ts)).collect()
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

fn hash(labels: &LabelSet) -> u64 {
    let mut h = twox_hash::XxHash64::with_seed(0);
    labels.hash(&mut h);
    h.finish()
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

/// The report series of a scrape at `ts`, with the target's labels.
pub(crate) fn report(
    target: &Target,
    ts: i64,
    up: bool,
    duration_s: f64,
    made: &Made,
) -> Vec<SeriesSamples> {
    let series = |name: &str, value: f64| {
        let mut labels = target.labels.clone();
        labels.push(("__name__".into(), name.into()));
        labels.sort();
        SeriesSamples {
            labels,
            samples: vec![Sample { ts, value }],
        }
    };
    vec![
        series("up", if up { 1.0 } else { 0.0 }),
        series("scrape_duration_seconds", duration_s),
        series("scrape_samples_scraped", made.scraped as f64),
        series(
            "scrape_samples_post_metric_relabeling",
            made.post_relabel as f64,
        ),
        series("scrape_series_added", made.added as f64),
    ]
}

/// The report series' labels: marked stale when the target goes.
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
