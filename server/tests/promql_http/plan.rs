//! Which tenant each eval of the conformance scripts reads, and writing those tenants into
//! a writer over remote write 1.0.
//!
//! A script loads, evaluates, loads more, clears. Every eval sees the loads since the last
//! `clear` that came before it, so each distinct such list is one tenant: its loads are
//! written to it in the script's order, and the evals that see exactly that list read it.
//! One writer and one set of query processes thus serve every script at once.

use prost::Message;
use strata_engine::{Counts, Histogram, ResetHint, SeriesHistograms, SeriesSamples};
use strata_server::remote_write::proto::{
    self as rw, BucketSpan, TimeSeries, WriteRequest,
    histogram::{Count, ZeroCount},
};
use strata_tests::remote_write::HEADERS;
use strata_tests::server::Server;

use crate::conformance::lists::DelayedCases;
use crate::conformance::load;
use crate::conformance::script::{Command, Eval, SeriesLine};

/// One `load` block.
pub(crate) struct Load {
    interval: i64,
    nhcb: bool,
    series: Vec<SeriesLine>,
}

/// A tenant: the loads it holds, in order.
pub(crate) struct Tenant {
    pub(crate) id: String,
    loads: Vec<std::sync::Arc<Load>>,
}

/// One eval, and where it runs.
pub(crate) struct Case {
    pub(crate) file: String,
    pub(crate) eval: Box<Eval>,
    /// The index of its tenant in the plan's list.
    pub(crate) tenant: usize,
    /// Whether it runs with delayed name removal (on the processes configured so).
    pub(crate) delayed: bool,
}

/// The tenants and cases of every script.
#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) cases: Vec<Case>,
}

impl Plan {
    /// Adds script `file` (its commands), the `n`-th script.
    pub(crate) fn add(&mut self, n: usize, file: &str, cmds: Vec<Command>, delayed: &DelayedCases) {
        let mut loads: Vec<std::sync::Arc<Load>> = Vec::new();
        let mut current: Option<usize> = None;
        let mut states = 0;
        for cmd in cmds {
            match cmd {
                Command::Clear => {
                    loads.clear();
                    current = None;
                }
                Command::Load {
                    interval,
                    nhcb,
                    series,
                } => {
                    loads.push(std::sync::Arc::new(Load {
                        interval,
                        nhcb,
                        series,
                    }));
                    current = None;
                }
                Command::Eval(eval) => {
                    let tenant = *current.get_or_insert_with(|| {
                        states += 1;
                        self.tenants.push(Tenant {
                            id: format!("conf{n}-{states}"),
                            loads: loads.clone(),
                        });
                        self.tenants.len() - 1
                    });
                    self.cases.push(Case {
                        file: file.to_string(),
                        delayed: delayed.has(eval.line),
                        eval,
                        tenant,
                    });
                }
            }
        }
    }
}

fn labels(pairs: &[(String, String)]) -> Vec<rw::Label> {
    pairs
        .iter()
        .map(|(n, v)| rw::Label {
            name: n.clone().into_bytes(),
            value: v.clone().into_bytes(),
        })
        .collect()
}

fn spans(s: &[strata_engine::Span]) -> Vec<BucketSpan> {
    s.iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

/// The remote-write form of a histogram the engine would be given.
fn histogram(ts: i64, h: &Histogram) -> rw::Histogram {
    let mut out = rw::Histogram {
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        negative_spans: spans(&h.negative_spans),
        positive_spans: spans(&h.positive_spans),
        reset_hint: match h.reset_hint {
            ResetHint::Unknown => 0,
            ResetHint::Reset => 1,
            ResetHint::NotReset => 2,
            ResetHint::Gauge => 3,
        },
        timestamp: ts,
        custom_values: h.custom_values.clone(),
        ..rw::Histogram::default()
    };
    match &h.counts {
        Counts::Int {
            count,
            zero_count,
            positive_deltas,
            negative_deltas,
        } => {
            out.count = Some(Count::CountInt(*count));
            out.zero_count = Some(ZeroCount::ZeroCountInt(*zero_count));
            out.positive_deltas = positive_deltas.clone();
            out.negative_deltas = negative_deltas.clone();
        }
        Counts::Float {
            count,
            zero_count,
            positive,
            negative,
        } => {
            out.count = Some(Count::CountFloat(*count));
            out.zero_count = Some(ZeroCount::ZeroCountFloat(*zero_count));
            out.positive_counts = positive.clone();
            out.negative_counts = negative.clone();
        }
    }
    out
}

fn float_series(s: &SeriesSamples) -> TimeSeries {
    TimeSeries {
        labels: labels(&s.labels),
        samples: s
            .samples
            .iter()
            .map(|x| rw::Sample {
                value: x.value,
                timestamp: x.ts,
            })
            .collect(),
        ..TimeSeries::default()
    }
}

fn histogram_series(s: &SeriesHistograms) -> TimeSeries {
    TimeSeries {
        labels: labels(&s.labels),
        histograms: s.histograms.iter().map(|x| histogram(x.ts, &x.h)).collect(),
        ..TimeSeries::default()
    }
}

/// Posts one remote-write request for `tenant`; `Err` holds what the writer refused.
fn post(writer: &Server, tenant: &str, timeseries: Vec<TimeSeries>) -> Result<(), String> {
    if timeseries.is_empty() {
        return Ok(());
    }
    let raw = WriteRequest {
        timeseries,
        ..WriteRequest::default()
    }
    .encode_to_vec();
    let body = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| e.to_string())?;
    let mut headers = HEADERS.to_vec();
    headers.push(("X-Scope-OrgID", tenant));
    let r = writer
        .post("/api/v1/write", &headers, &body)
        .map_err(|e| e.to_string())?;
    if r.status == 204 {
        Ok(())
    } else {
        Err(format!("{tenant}: HTTP {}: {}", r.status, r.text()))
    }
}

/// Writes `tenant`'s loads into `writer`, each as the engine runner writes it (its floats,
/// then its histograms); returns what the writer refused.
pub(crate) fn write(writer: &Server, tenant: &Tenant) -> Vec<String> {
    let mut refused = Vec::new();
    for l in &tenant.loads {
        let b = load::batches(l.interval, l.nhcb, &l.series);
        let floats = b.floats.iter().map(float_series).collect();
        let histograms = b.histograms.iter().map(histogram_series).collect();
        for ts in [floats, histograms] {
            if let Err(e) = post(writer, &tenant.id, ts) {
                refused.push(e);
            }
        }
    }
    refused
}

/// The greatest timestamp `tenant` holds, if any.
pub(crate) fn last_ms(tenant: &Tenant) -> Option<i64> {
    tenant
        .loads
        .iter()
        .filter(|l| l.series.iter().any(|s| !s.values.is_empty()))
        .map(|l| {
            let n = l.series.iter().map(|s| s.values.len()).max().unwrap_or(0);
            (n as i64 - 1) * l.interval
        })
        .max()
}
