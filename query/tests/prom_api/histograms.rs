//! Native histograms through the Prometheus HTTP API: the JSON of Prometheus's own codec
//! test, as a vector, a range vector and a range query.

use super::*;

/// Prometheus's web/api/v1/json_codec_test.go histogram (schema 2, zero threshold 0.001),
/// written as an integer histogram (bucket deltas) with a count that matches its buckets.
fn codec_histogram() -> strata_engine::Histogram {
    use strata_engine::{Counts, Histogram, ResetHint, Span};
    Histogram {
        schema: 2,
        zero_threshold: 0.001,
        sum: 20.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![
            Span {
                offset: 3,
                length: 2,
            },
            Span {
                offset: 1,
                length: 3,
            },
        ],
        negative_spans: vec![Span {
            offset: 2,
            length: 2,
        }],
        custom_values: Vec::new(),
        // Positive 1 2 2 1 1, negative 2 1, zero bucket 12: 22 observations.
        counts: Counts::Int {
            count: 22,
            zero_count: 12,
            positive_deltas: vec![1, 1, 0, -1, 0],
            negative_deltas: vec![2, -1],
        },
    }
}

/// The histogram's JSON as Prometheus's json_codec_test.go expects it (count 22 here).
const CODEC_JSON: &str = concat!(
    r#"{"count":"22","sum":"20","buckets":[[1,"-1.6817928305074288","-1.414213562373095","1"],"#,
    r#"[1,"-1.414213562373095","-1.189207115002721","2"],[3,"-0.001","0.001","12"],"#,
    r#"[0,"1.414213562373095","1.6817928305074288","1"],[0,"1.6817928305074288","2","2"],"#,
    r#"[0,"2.378414230005442","2.82842712474619","2"],[0,"2.82842712474619","3.3635856610148576","1"],"#,
    r#"[0,"3.3635856610148576","4","1"]]}"#
);

#[test]
fn native_histograms_render_like_prometheus() {
    use std::sync::Arc;
    use strata_engine::{HistogramSample, SeriesHistograms};
    let f = fixture();
    let h = Arc::new(codec_histogram());
    let out = f
        .engine
        .write_histograms(
            &f.acme,
            &[SeriesHistograms {
                labels: vec![("__name__".into(), "hist".into())],
                histograms: vec![
                    HistogramSample {
                        ts: NOW - 30_000,
                        h: h.clone(),
                    },
                    HistogramSample { ts: NOW, h },
                ],
            }],
        )
        .unwrap();
    assert_eq!(out.accepted_histograms, 2);
    // A vector element: "histogram" in place of "value".
    assert_eq!(
        f.query(&[("query", "hist"), ("time", "1700000000")]),
        ok(&format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"__name__":"hist"}},"histogram":[1700000000,{CODEC_JSON}]}}]}}}}"#
        ))
    );
    // A range vector and a range query: "histograms" in place of "values".
    let matrix = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"hist"}},"histograms":[[1699999970,{CODEC_JSON}],[1700000000,{CODEC_JSON}]]}}]}}}}"#
    );
    assert_eq!(
        f.query(&[("query", "hist[1m]"), ("time", "1700000000")]),
        ok(&matrix)
    );
    assert_eq!(
        f.range(&[
            ("query", "hist"),
            ("start", "1699999970"),
            ("end", "1700000000"),
            ("step", "30")
        ]),
        ok(&matrix)
    );
    // Functions of histograms return floats; float-only functions leave histograms out.
    assert_eq!(
        f.query(&[("query", "histogram_count(hist)"), ("time", "1700000000")]),
        ok(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"22"]}]}}"#
        )
    );
    assert_eq!(
        f.query(&[("query", "abs(hist)"), ("time", "1700000000")]),
        ok(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
    );
    // A classic/native mix is a warning with Prometheus's text.
    let (status, body) = f.query(&[
        ("query", "histogram_quantile(0.5, {__name__=~\"hist|up\"})"),
        ("time", "1700000000"),
    ]);
    assert_eq!(status, 200);
    assert!(
        body.contains(r#""warnings":["PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" (1:25)"]"#),
        "{body}"
    );
}
