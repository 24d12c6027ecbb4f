//! OTLP metrics to Prometheus series, as Prometheus 3.x's OTLP receiver maps them with its
//! default settings (see `docs/otlp-mapping.md`).

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, DataPointFlags, Exemplar as OtlpExemplar,
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
    exemplar, metric::Data, number_data_point,
};
use strata_engine::{
    Exemplar, HistogramSample, Sample, SeriesExemplars, SeriesHistograms, SeriesSamples,
};

use super::super::semconv::{SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE};
use super::exphist::exp_histogram;
use super::labels::{LabelMap, ResourceLabels, base_labels, finish, scope_labels};
use super::names::{MetricKind, metric_name};
use super::nhcb::nhcb;
use super::point::{millis, value_or_stale};

/// At most this many reasons are kept in [`Translated::errors`]; the count stays exact.
const MAX_ERRORS: usize = 16;

/// At most this many `target_info` samples per resource (with the default 5 min lookback,
/// 2.5 min apart: 41 hours). Prometheus has no cap; a request whose points span years would
/// otherwise produce hundreds of thousands of samples.
const MAX_TARGET_INFO_SAMPLES: i64 = 1000;

/// Choices Prometheus exposes in its `otlp:` configuration; the defaults are Prometheus 3.x's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TranslateOptions {
    /// Add `otel_scope_name`, `otel_scope_version`, `otel_scope_schema_url` and
    /// `otel_scope_<attribute>` labels to every series of a named scope (Prometheus's
    /// `promote_scope_metadata`, default `false`).
    pub(crate) promote_scope_metadata: bool,
    /// Write a `target_info` series per resource with its non-identifying attributes
    /// (default `true`; Prometheus has no switch in its config file).
    pub(crate) target_info: bool,
    /// The PromQL lookback delta in milliseconds: `target_info` gets one sample every half of
    /// it across the resource's time range, so it is found at every instant (default 5 min).
    pub(crate) lookback_delta_ms: i64,
    /// Explicit-bucket histograms as native histograms with custom buckets (one series
    /// named as the metric) instead of `_bucket`, `_sum` and `_count` series (Prometheus's
    /// `convert_histograms_to_nhcb`, `[otlp]` in the configuration; default `false`).
    pub(crate) convert_histograms_to_nhcb: bool,
    /// Take delta sums and histograms, marking their series in
    /// [`Translated::delta_series`] and [`Translated::delta_histograms`] for the server to
    /// make cumulative (`[otlp] delta_to_cumulative`, `otlp/delta.rs`); default `false`:
    /// refused, as Prometheus refuses them.
    pub(crate) delta_to_cumulative: bool,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        Self {
            promote_scope_metadata: false,
            target_info: true,
            lookback_delta_ms: 5 * 60 * 1000,
            convert_histograms_to_nhcb: false,
            delta_to_cumulative: false,
        }
    }
}

/// The Prometheus series of one OTLP request, and what could not be mapped.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Translated {
    /// One entry per distinct label set (sorted by name), samples in request order.
    pub(crate) series: Vec<SeriesSamples>,
    /// Native histograms (from exponential histogram points), as `series`.
    pub(crate) histograms: Vec<SeriesHistograms>,
    /// OTLP data points in the request (the unit of `rejected_data_points`).
    pub(crate) points: u64,
    /// OTLP data points that were not mapped (each is counted once, however many samples it
    /// would have made).
    pub(crate) rejected_points: u64,
    /// Why, one line per rejected metric or point, at most 16; `rejected_points` stays exact.
    pub(crate) errors: Vec<String>,
    /// The points' exemplars, by the series they were attached to (a histogram's to the
    /// `_bucket` series whose bucket holds the value), as Prometheus's OTLP translator
    /// attaches them.
    pub(crate) exemplars: Vec<SeriesExemplars>,
    /// The metadata of the metrics that made series (each distinct entry once), as
    /// Prometheus's OTLP translator gives it (`metrics/metadata.rs`).
    pub(crate) metadata: Vec<strata_engine::FamilyMetadata>,
    /// Indexes in `series` of the series of delta points (with
    /// [`TranslateOptions::delta_to_cumulative`]): their samples are deltas.
    pub(crate) delta_series: Vec<usize>,
    /// The same in `histograms`.
    pub(crate) delta_histograms: Vec<usize>,
}

/// Builds series, merging samples of equal label sets.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) out: Translated,
    index: HashMap<Vec<(String, String)>, usize>,
    histogram_index: HashMap<Vec<(String, String)>, usize>,
    exemplar_index: HashMap<Vec<(String, String)>, usize>,
    /// The entries in `out.metadata`.
    pub(super) metadata_seen: std::collections::HashSet<(String, strata_engine::Metadata)>,
    dropped_errors: u64,
    /// Points being added are deltas (their series go to `out.delta_*`).
    pub(super) delta: bool,
}

impl Builder {
    pub(super) fn add(&mut self, labels: Vec<(String, String)>, sample: Sample) {
        match self.index.get(&labels) {
            Some(&i) => self.out.series[i].samples.push(sample),
            None => {
                if self.delta {
                    self.out.delta_series.push(self.out.series.len());
                }
                self.index.insert(labels.clone(), self.out.series.len());
                self.out.series.push(SeriesSamples {
                    labels,
                    samples: vec![sample],
                });
            }
        }
    }

    pub(super) fn add_histogram(&mut self, labels: Vec<(String, String)>, h: HistogramSample) {
        match self.histogram_index.get(&labels) {
            Some(&i) => self.out.histograms[i].histograms.push(h),
            None => {
                if self.delta {
                    self.out.delta_histograms.push(self.out.histograms.len());
                }
                self.histogram_index
                    .insert(labels.clone(), self.out.histograms.len());
                self.out.histograms.push(SeriesHistograms {
                    labels,
                    histograms: vec![h],
                });
            }
        }
    }

    /// Attaches OTLP exemplars to the series `labels`.
    pub(super) fn add_exemplars<'e>(
        &mut self,
        labels: &[(String, String)],
        exemplars: impl IntoIterator<Item = &'e OtlpExemplar>,
    ) {
        let mut exemplars = exemplars.into_iter().map(exemplar).peekable();
        if exemplars.peek().is_none() {
            return;
        }
        let i = match self.exemplar_index.get(labels) {
            Some(&i) => i,
            None => {
                self.exemplar_index
                    .insert(labels.to_vec(), self.out.exemplars.len());
                self.out.exemplars.push(SeriesExemplars {
                    series: labels.to_vec(),
                    exemplars: Vec::new(),
                });
                self.out.exemplars.len() - 1
            }
        };
        self.out.exemplars[i].exemplars.extend(exemplars);
    }

    pub(super) fn reject(&mut self, points: u64, reason: impl FnOnce() -> String) {
        self.out.rejected_points += points;
        if self.out.errors.len() < MAX_ERRORS {
            self.out.errors.push(reason());
        } else {
            self.dropped_errors += 1;
        }
    }

    pub(super) fn finish(mut self) -> Translated {
        if self.dropped_errors > 0 {
            self.out
                .errors
                .push(format!("... and {} more", self.dropped_errors));
        }
        self.out
    }
}

/// The labels shared by one scope's points: `job`/`instance` and the scope labels.
pub(super) struct Context<'a> {
    pub(super) resource: &'a ResourceLabels,
    pub(super) scope: &'a [(String, String)],
    /// [`TranslateOptions::convert_histograms_to_nhcb`].
    pub(super) nhcb: bool,
    /// [`TranslateOptions::delta_to_cumulative`].
    pub(super) delta: bool,
}

/// An OTLP exemplar as Prometheus's OTLP translator maps it: its filtered attributes as
/// labels, then `trace_id` and `span_id` in lowercase hex (replacing attributes of those
/// names; left out when empty, and any other length than 16 and 8 bytes is kept in hex for
/// the engine to refuse); its value (double or int) and its time in ms.
pub(crate) fn exemplar(e: &OtlpExemplar) -> Exemplar {
    let mut labels: Vec<(String, String)> = e
        .filtered_attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                super::labels::value_string(kv.value.as_ref()),
            )
        })
        .collect();
    for (name, id) in [
        (strata_engine::TRACE_ID_LABEL, &e.trace_id),
        (strata_engine::SPAN_ID_LABEL, &e.span_id),
    ] {
        if id.is_empty() {
            continue;
        }
        labels.retain(|(n, _)| n != name);
        labels.push((name.to_owned(), hex(id)));
    }
    let value = match e.value {
        Some(exemplar::Value::AsDouble(v)) => v,
        Some(exemplar::Value::AsInt(v)) => v as f64,
        None => 0.0,
    };
    Exemplar {
        labels,
        ts: millis(e.time_unix_nano),
        value,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`, for `le` and `quantile` values.
fn float_label(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}

/// Maps an OTLP metrics request onto Prometheus series. Nothing is dropped silently: every
/// point that cannot be mapped is counted in `rejected_points` with a reason.
pub(crate) fn translate_metrics(
    req: &ExportMetricsServiceRequest,
    opts: &TranslateOptions,
) -> Translated {
    let mut b = Builder::default();
    for rm in &req.resource_metrics {
        let resource_attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let resource = ResourceLabels::new(resource_attrs);
        let mut range: Option<(i64, i64)> = None;
        for sm in &rm.scope_metrics {
            let scope = if opts.promote_scope_metadata {
                match scope_labels(sm.scope.as_ref(), &sm.schema_url) {
                    Ok(labels) => labels,
                    Err(e) => {
                        let n: u64 = sm.metrics.iter().map(point_count).sum();
                        b.out.points += n;
                        b.reject(n, || format!("scope: {e}"));
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            let ctx = Context {
                resource: &resource,
                scope: &scope,
                nhcb: opts.convert_histograms_to_nhcb,
                delta: opts.delta_to_cumulative,
            };
            for metric in &sm.metrics {
                b.out.points += point_count(metric);
                if let Some((lo, hi)) = time_range(metric) {
                    range = Some(match range {
                        Some((a, z)) => (a.min(lo), z.max(hi)),
                        None => (lo, hi),
                    });
                }
                translate_metric(&mut b, &ctx, metric);
            }
        }
        if opts.target_info
            && let Some(range) = range
        {
            add_target_info(
                &mut b,
                resource_attrs,
                &resource,
                range,
                opts.lookback_delta_ms,
            );
        }
    }
    b.finish()
}

pub(super) fn point_count(metric: &Metric) -> u64 {
    let n = match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    n as u64
}

/// The earliest and latest point timestamps of a metric in ms (points without one ignored).
pub(super) fn time_range(metric: &Metric) -> Option<(i64, i64)> {
    let times: Vec<u64> = match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::ExponentialHistogram(h)) => {
            h.data_points.iter().map(|p| p.time_unix_nano).collect()
        }
        Some(Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        None => Vec::new(),
    };
    let times = times.into_iter().filter(|&t| t != 0);
    let lo = times.clone().min()?;
    let hi = times.max()?;
    Some((millis(lo), millis(hi)))
}

fn temporality_name(t: i32) -> &'static str {
    match AggregationTemporality::try_from(t) {
        Ok(AggregationTemporality::Delta) => "delta",
        Ok(AggregationTemporality::Cumulative) => "cumulative",
        Ok(AggregationTemporality::Unspecified) => "unspecified",
        Err(_) => "unknown",
    }
}

pub(super) fn translate_metric(b: &mut Builder, ctx: &Context<'_>, metric: &Metric) {
    let n = point_count(metric);
    let (kind, temporality) = match &metric.data {
        None => {
            b.reject(0, || {
                format!(
                    "metric {:?}: no data (unsupported metric type)",
                    metric.name
                )
            });
            return;
        }
        Some(Data::Gauge(_)) => (MetricKind::Gauge, None),
        Some(Data::Sum(s)) if s.is_monotonic => (
            MetricKind::MonotonicCounter,
            Some(s.aggregation_temporality),
        ),
        Some(Data::Sum(s)) => (
            MetricKind::NonMonotonicCounter,
            Some(s.aggregation_temporality),
        ),
        Some(Data::Histogram(h)) => (MetricKind::Histogram, Some(h.aggregation_temporality)),
        Some(Data::ExponentialHistogram(h)) => {
            (MetricKind::Histogram, Some(h.aggregation_temporality))
        }
        Some(Data::Summary(_)) => (MetricKind::Summary, None),
    };
    let delta = temporality == Some(AggregationTemporality::Delta as i32);
    if let Some(t) = temporality
        && t != AggregationTemporality::Cumulative as i32
        && !(delta && ctx.delta)
    {
        b.reject(n, || {
            format!(
                "metric {:?}: {} temporality is not supported, only cumulative (as in \
                 Prometheus); {n} points rejected",
                metric.name,
                temporality_name(t)
            )
        });
        return;
    }
    let name = match metric_name(&metric.name, &metric.unit, kind) {
        Ok(name) => name,
        Err(e) => {
            b.reject(n, || format!("{e}; {n} points rejected"));
            return;
        }
    };
    if n == 0 {
        b.reject(0, || {
            format!("metric {:?}: empty data points, dropped", metric.name)
        });
        return;
    }
    b.add_metadata(&name, kind, &metric.description, &metric.unit);
    b.delta = delta;
    points(b, ctx, metric, &name);
    b.delta = false;
}

/// Every point of `metric` (named `name`) into `b`.
fn points(b: &mut Builder, ctx: &Context<'_>, metric: &Metric, name: &str) {
    let name = name.to_owned();
    match &metric.data {
        Some(Data::Gauge(g)) => {
            for p in &g.data_points {
                number_point(b, ctx, &metric.name, &name, p);
            }
        }
        Some(Data::Sum(s)) => {
            for p in &s.data_points {
                number_point(b, ctx, &metric.name, &name, p);
            }
        }
        Some(Data::Histogram(h)) if ctx.nhcb => {
            for p in &h.data_points {
                let (attrs, time) = (&p.attributes[..], p.time_unix_nano);
                let h = nhcb(p).map(|h| stale_if_unrecorded(h, p.flags));
                native_point(
                    b,
                    ctx,
                    (&metric.name, &name),
                    (attrs, time),
                    &p.exemplars,
                    h,
                );
            }
        }
        Some(Data::Histogram(h)) => {
            for p in &h.data_points {
                histogram_point(b, ctx, &metric.name, &name, p);
            }
        }
        Some(Data::Summary(s)) => {
            for p in &s.data_points {
                summary_point(b, ctx, &metric.name, &name, p);
            }
        }
        Some(Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                exp_histogram_point(b, ctx, &metric.name, &name, p);
            }
        }
        None => {}
    }
}

/// The point's base labels and timestamp, or `None` after rejecting it.
pub(super) fn point_base(
    b: &mut Builder,
    ctx: &Context<'_>,
    metric: &str,
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    time_unix_nano: u64,
) -> Option<(LabelMap, i64)> {
    if time_unix_nano == 0 {
        b.reject(1, || {
            format!("metric {metric:?}: data point without a timestamp")
        });
        return None;
    }
    match base_labels(attrs, &[], ctx.scope, ctx.resource) {
        Ok(labels) => Some((labels, millis(time_unix_nano))),
        Err(e) => {
            b.reject(1, || format!("metric {metric:?}: {e}"));
            None
        }
    }
}

pub(super) fn number_point(
    b: &mut Builder,
    ctx: &Context<'_>,
    metric: &str,
    name: &str,
    p: &NumberDataPoint,
) {
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None if p.flags & DataPointFlags::NoRecordedValueMask as u32 != 0 => 0.0,
        None => {
            b.reject(1, || {
                format!("metric {metric:?}: data point without a value")
            });
            return;
        }
    };
    let Some((base, ts)) = point_base(b, ctx, metric, &p.attributes, p.time_unix_nano) else {
        return;
    };
    let value = value_or_stale(p.flags, value);
    let labels = finish(&base, name, &[]);
    b.add_exemplars(&labels, &p.exemplars);
    b.add(labels, Sample { ts, value });
}

/// The exemplars of a number point whose sample the fast path stores by its key: attached
/// to the series [`number_point`] would give it (none when its labels do not map: the
/// point itself is then refused there).
pub(super) fn number_point_exemplars(
    b: &mut Builder,
    ctx: &Context<'_>,
    name: &str,
    p: &NumberDataPoint,
) {
    if p.exemplars.is_empty() {
        return;
    }
    if let Ok(base) = base_labels(&p.attributes, &[], ctx.scope, ctx.resource) {
        b.add_exemplars(&finish(&base, name, &[]), &p.exemplars);
    }
}

fn histogram_point(
    b: &mut Builder,
    ctx: &Context<'_>,
    metric: &str,
    name: &str,
    p: &HistogramDataPoint,
) {
    let Some((base, ts)) = point_base(b, ctx, metric, &p.attributes, p.time_unix_nano) else {
        return;
    };
    let v = |value: f64| Sample {
        ts,
        value: value_or_stale(p.flags, value),
    };
    if let Some(sum) = p.sum {
        b.add(finish(&base, &format!("{name}_sum"), &[]), v(sum));
    }
    b.add(
        finish(&base, &format!("{name}_count"), &[]),
        v(p.count as f64),
    );
    let bucket = format!("{name}_bucket");
    let mut cumulative: u64 = 0;
    // Each bucket's series and upper bound, for the exemplars.
    let mut bounds: Vec<(f64, Vec<(String, String)>)> = Vec::new();
    for (bound, count) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
        cumulative = cumulative.saturating_add(*count);
        let le = float_label(*bound);
        let labels = finish(&base, &bucket, &[("le", le.as_str())]);
        bounds.push((*bound, labels.clone()));
        b.add(labels, v(cumulative as f64));
    }
    let inf = finish(&base, &bucket, &[("le", "+Inf")]);
    bounds.push((f64::INFINITY, inf.clone()));
    b.add(inf, v(p.count as f64));
    // As Prometheus's translator: each exemplar goes to the first bucket, by bound, whose
    // bound is at least its value (`+Inf` holds the rest).
    bounds.sort_by(|x, y| x.0.total_cmp(&y.0));
    for e in &p.exemplars {
        let value = match e.value {
            Some(exemplar::Value::AsDouble(v)) => v,
            Some(exemplar::Value::AsInt(v)) => v as f64,
            None => 0.0,
        };
        if let Some((_, labels)) = bounds.iter().find(|(bound, _)| value <= *bound) {
            b.add_exemplars(labels, [e]);
        }
    }
}

/// Adds a cumulative point as a native histogram sample of the series `name` (no suffix),
/// with its exemplars; refuses it (counted, with the reason) when it cannot be converted.
fn exp_histogram_point(
    b: &mut Builder,
    ctx: &Context<'_>,
    metric: &str,
    name: &str,
    p: &ExponentialHistogramDataPoint,
) {
    let at = (&p.attributes[..], p.time_unix_nano);
    let h = exp_histogram(p).map_err(|e| e.to_string());
    native_point(b, ctx, (metric, name), at, &p.exemplars, h);
}

/// A native histogram `h` (or why the point is not one) as the sample of the series
/// `name` at the point's time, with its exemplars.
fn native_point(
    b: &mut Builder,
    ctx: &Context<'_>,
    (metric, name): (&str, &str),
    (attrs, time_unix_nano): (&[opentelemetry_proto::tonic::common::v1::KeyValue], u64),
    exemplars: &[OtlpExemplar],
    h: Result<strata_engine::Histogram, String>,
) {
    let Some((base, ts)) = point_base(b, ctx, metric, attrs, time_unix_nano) else {
        return;
    };
    let h = match h {
        Ok(h) => h,
        Err(e) => {
            b.reject(1, || format!("metric {metric:?}: {e}"));
            return;
        }
    };
    let labels = finish(&base, name, &[]);
    b.add_exemplars(&labels, exemplars);
    b.add_histogram(
        labels,
        HistogramSample {
            ts,
            h: std::sync::Arc::new(h),
        },
    );
}

/// A point flagged "no recorded value" is a staleness marker: its sum the stale NaN.
fn stale_if_unrecorded(mut h: strata_engine::Histogram, flags: u32) -> strata_engine::Histogram {
    if flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
        h.sum = value_or_stale(flags, 0.0);
    }
    h
}

fn summary_point(
    b: &mut Builder,
    ctx: &Context<'_>,
    metric: &str,
    name: &str,
    p: &SummaryDataPoint,
) {
    let Some((base, ts)) = point_base(b, ctx, metric, &p.attributes, p.time_unix_nano) else {
        return;
    };
    let v = |value: f64| Sample {
        ts,
        value: value_or_stale(p.flags, value),
    };
    b.add(finish(&base, &format!("{name}_sum"), &[]), v(p.sum));
    b.add(
        finish(&base, &format!("{name}_count"), &[]),
        v(p.count as f64),
    );
    for q in &p.quantile_values {
        let quantile = float_label(q.quantile);
        b.add(
            finish(&base, name, &[("quantile", quantile.as_str())]),
            v(q.value),
        );
    }
}

/// `target_info{job, instance, <other resource attributes>} 1`, from the resource's first
/// to its last point timestamp every half lookback delta, plus one at the last timestamp.
/// Only when the resource has `job` or `instance` and at least one other attribute.
pub(super) fn add_target_info(
    b: &mut Builder,
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    resource: &ResourceLabels,
    (first, last): (i64, i64),
    lookback_delta_ms: i64,
) {
    let identifying = [SERVICE_NAMESPACE, SERVICE_NAME, SERVICE_INSTANCE_ID];
    let others = attrs
        .iter()
        .filter(|kv| !identifying.contains(&kv.key.as_str()))
        .count();
    if others == 0 || (resource.job.is_none() && resource.instance.is_none()) {
        return;
    }
    let base = match base_labels(attrs, &identifying, &[], resource) {
        Ok(base) => base,
        Err(e) => {
            b.reject(0, || format!("target_info not written: resource {e}"));
            return;
        }
    };
    let labels = finish(&base, "target_info", &[]);
    b.add_target_info_metadata();
    let interval = (lookback_delta_ms / 2).max(1);
    let steps = (last - first) / interval;
    let start = if steps >= MAX_TARGET_INFO_SAMPLES {
        last - (MAX_TARGET_INFO_SAMPLES - 1) * interval
    } else {
        first
    };
    let mut ts = start;
    while ts < last {
        b.add(labels.clone(), Sample { ts, value: 1.0 });
        ts += interval;
    }
    b.add(
        labels,
        Sample {
            ts: last,
            value: 1.0,
        },
    );
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
