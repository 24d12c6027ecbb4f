//! Native histograms of tenant `hist` for the SQL tests (`tests/slt/histograms*.slt`),
//! written through the engine around the dataset's flushes (see [`super::dataset`]).

use std::sync::Arc;

use strata_engine::{
    Counts, Engine, Histogram, HistogramSample, ResetHint, SeriesHistograms, Span, TenantId,
};

use super::{MINUTE, T0};

/// The tenant holding the histograms (and nothing else).
pub fn hist() -> TenantId {
    TenantId::new("hist").expect("valid")
}

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

fn write(engine: &Engine, job: &str, minute: i64, h: Histogram) {
    let series = SeriesHistograms {
        labels: vec![
            ("__name__".into(), "latency_seconds".into()),
            ("job".into(), job.into()),
        ],
        histograms: vec![HistogramSample {
            ts: T0 + minute * MINUTE,
            h: Arc::new(h),
        }],
    };
    let out = engine.write_histograms(&hist(), &[series]).expect("write");
    assert_eq!(out.accepted_histograms, 1, "{out:?}");
}

/// Before the first flush (to the hour-0 file set):
///
/// - `{job=exp}` minute 0, integer, schema 0, zero threshold 0.001, zero count 2; positive
///   spans [0,2],[1,1] (buckets 0, 1, 3), deltas 1, 2, -1 (counts 1, 3, 2); negative span
///   [-1,1] (bucket -1), count 4; count 12, sum 7.5.
/// - `{job=exp}` minute 1, float, schema 0, zero threshold 0.001, zero count 0.5; positive
///   span [1,2] (buckets 1, 2) counts 2, 3; count 5.5, sum 10.25.
/// - `{job=custom}` minute 2, integer, schema -53, bounds 0.1, 0.5, 1; span [0,4] (buckets
///   0..=3), deltas 1, 1, 1, -2 (counts 1, 2, 3, 1); count 7, sum 3.
pub fn write_before_flush_1(engine: &Engine) {
    write(
        engine,
        "exp",
        0,
        Histogram {
            schema: 0,
            zero_threshold: 0.001,
            sum: 7.5,
            reset_hint: ResetHint::Unknown,
            positive_spans: vec![span(0, 2), span(1, 1)],
            negative_spans: vec![span(-1, 1)],
            custom_values: vec![],
            counts: Counts::Int {
                count: 12,
                zero_count: 2,
                positive_deltas: vec![1, 2, -1],
                negative_deltas: vec![4],
            },
        },
    );
    write(
        engine,
        "exp",
        1,
        Histogram {
            schema: 0,
            zero_threshold: 0.001,
            sum: 10.25,
            reset_hint: ResetHint::NotReset,
            positive_spans: vec![span(1, 2)],
            negative_spans: vec![],
            custom_values: vec![],
            counts: Counts::Float {
                count: 5.5,
                zero_count: 0.5,
                positive: vec![2.0, 3.0],
                negative: vec![],
            },
        },
    );
    write(
        engine,
        "custom",
        2,
        Histogram {
            schema: -53,
            zero_threshold: 0.0,
            sum: 3.0,
            reset_hint: ResetHint::Gauge,
            positive_spans: vec![span(0, 4)],
            negative_spans: vec![],
            custom_values: vec![0.1, 0.5, 1.0],
            counts: Counts::Int {
                count: 7,
                zero_count: 0,
                positive_deltas: vec![1, 1, 1, -2],
                negative_deltas: vec![],
            },
        },
    );
}

/// Between the flushes (to the hour-2 set): `{job=exp}` minute 125, integer, schema 2, no
/// zero bucket, span [4,1] (bucket 4: (2^(3/4), 2]) count 3; count 3, sum 5.
pub fn write_before_flush_2(engine: &Engine) {
    write(
        engine,
        "exp",
        125,
        Histogram {
            schema: 2,
            zero_threshold: 0.0,
            sum: 5.0,
            reset_hint: ResetHint::Reset,
            positive_spans: vec![span(4, 1)],
            negative_spans: vec![],
            custom_values: vec![],
            counts: Counts::Int {
                count: 3,
                zero_count: 0,
                positive_deltas: vec![3],
                negative_deltas: vec![],
            },
        },
    );
}

/// After the flushes (memory):
///
/// - `{job=exp}` minute 170, float, schema 0, no zero bucket, negative span [2,1] (bucket 2:
///   [-4, -2)) count 1.5; count 1.5, sum -3.
/// - `{job=custom}` minute 2 again, different (count 50, sum 9, bucket 0 with 50): the head
///   does not know the flushed sample and takes it; the flushed one must win. (A re-sent
///   `{job=exp}` minute 1 would be older than that series' newest sample by more than the
///   out-of-order window.)
pub fn write_after_flushes(engine: &Engine) {
    write(
        engine,
        "exp",
        170,
        Histogram {
            schema: 0,
            zero_threshold: 0.0,
            sum: -3.0,
            reset_hint: ResetHint::Unknown,
            positive_spans: vec![],
            negative_spans: vec![span(2, 1)],
            custom_values: vec![],
            counts: Counts::Float {
                count: 1.5,
                zero_count: 0.0,
                positive: vec![],
                negative: vec![1.5],
            },
        },
    );
    write(
        engine,
        "custom",
        2,
        Histogram {
            schema: -53,
            zero_threshold: 0.0,
            sum: 9.0,
            reset_hint: ResetHint::Unknown,
            positive_spans: vec![span(0, 1)],
            negative_spans: vec![],
            custom_values: vec![0.1, 0.5, 1.0],
            counts: Counts::Int {
                count: 50,
                zero_count: 0,
                positive_deltas: vec![50],
                negative_deltas: vec![],
            },
        },
    );
}
