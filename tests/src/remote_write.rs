//! A Prometheus remote-write 1.0 client's encoder, written from `prompb/remote.proto` and
//! `types.proto` independently of the server's decoder, and a generator of realistic series
//! shaped like the shared bench dataset's (`../shared/bench/gen_dataset.py`: node_exporter
//! CPU counters and memory gauges, HTTP request counters and classic histograms per host).

use prost::Message;

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Field 1.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Field 2.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label` (bytes, so tests can send invalid UTF-8).
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Field 1.
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    /// Field 2.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Field 1.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Field 2, milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One series as a test builds it: sorted labels (`__name__` included) and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSeries {
    /// (name, value), sorted by name.
    pub labels: Vec<(String, String)>,
    /// (timestamp ms, value), in time order.
    pub samples: Vec<(i64, f64)>,
}

impl TestSeries {
    /// The protobuf form.
    pub fn to_proto(&self) -> TimeSeries {
        TimeSeries {
            labels: self
                .labels
                .iter()
                .map(|(n, v)| Label {
                    name: n.clone().into_bytes(),
                    value: v.clone().into_bytes(),
                })
                .collect(),
            samples: self
                .samples
                .iter()
                .map(|(t, v)| Sample {
                    value: *v,
                    timestamp: *t,
                })
                .collect(),
        }
    }
}

/// A snappy (block format) compressed `WriteRequest`: a remote-write 1.0 body.
pub fn encode(series: &[TimeSeries]) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: series.to_vec(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_default()
}

/// Bytes of the protobuf `WriteRequest` [`encode`] compresses for `series`.
pub fn uncompressed_len(series: &[TimeSeries]) -> usize {
    WriteRequest {
        timeseries: series.to_vec(),
    }
    .encoded_len()
}

/// The headers every remote-write 1.0 request carries.
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// Series for `hosts` hosts with `steps` samples each, every 15 s ending at `end_ms`:
/// node_cpu_seconds_total (2 cpus × 4 modes, counters with a reset), node_memory
/// gauges, http_requests_total per handler and code, and a classic latency histogram.
/// Values are deterministic in (host, series, step); some are NaN, ±Inf and subnormal.
pub fn node_and_http_series(hosts: usize, steps: usize, end_ms: i64) -> Vec<TestSeries> {
    let start = end_ms - (steps as i64 - 1) * 15_000;
    let ts = |i: usize| start + i as i64 * 15_000;
    let mut out = Vec::new();
    let mut add = |name: &str, extra: &[(&str, String)], host: usize, f: &dyn Fn(usize) -> f64| {
        let mut labels: Vec<(String, String)> = vec![
            ("__name__".into(), name.into()),
            ("instance".into(), format!("host-{host:03}:9100")),
            ("job".into(), "node".into()),
            (
                "zone".into(),
                ["eu-west-1a", "eu-west-1b", "us-east-1a"][host % 3].into(),
            ),
        ];
        labels.extend(extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        labels.sort();
        out.push(TestSeries {
            labels,
            samples: (0..steps).map(|i| (ts(i), f(i))).collect(),
        });
    };
    for h in 0..hosts {
        for cpu in 0..2 {
            for (m, mode) in ["idle", "system", "user", "iowait"].iter().enumerate() {
                let rate = (m + 1) as f64 * 0.37 + h as f64 * 0.01;
                // A counter reset half way through (a reboot).
                let f = move |i: usize| {
                    let i = if i >= steps / 2 {
                        i - steps / 2
                    } else {
                        i + 1000
                    };
                    i as f64 * rate * 15.0
                };
                add(
                    "node_cpu_seconds_total",
                    &[("cpu", cpu.to_string()), ("mode", mode.to_string())],
                    h,
                    &f,
                );
            }
        }
        add("node_memory_MemAvailable_bytes", &[], h, &|i| {
            8e9 - ((i * 7919 + h * 104_729) % 100_000) as f64 * 1e3
        });
        add("node_load1", &[], h, &|i| match i % 97 {
            13 => f64::NAN,
            _ => ((i * 31 + h) % 400) as f64 / 100.0,
        });
        for handler in ["/api/v1/query", "/api/v1/write"] {
            for code in ["200", "500"] {
                let scale = if code == "200" { 50.0 } else { 0.5 };
                add(
                    "http_requests_total",
                    &[("handler", handler.into()), ("code", code.into())],
                    h,
                    &|i| (i as f64 * scale).floor(),
                );
            }
            let mut cum = 0.0;
            for le in ["0.005", "0.05", "0.5", "5", "+Inf"] {
                cum += 10.0;
                let base = cum;
                add(
                    "http_request_duration_seconds_bucket",
                    &[("handler", handler.into()), ("le", le.into())],
                    h,
                    &|i| base * i as f64,
                );
            }
            add(
                "http_request_duration_seconds_sum",
                &[("handler", handler.into())],
                h,
                &|i| i as f64 * 3.25,
            );
            add(
                "http_request_duration_seconds_count",
                &[("handler", handler.into())],
                h,
                &|i| i as f64 * 50.0,
            );
        }
        // Not -0.0: proto3 encoders (prost, and Prometheus's gogo-generated prompb) skip a
        // double equal to 0, so -0.0 arrives as +0.0 from any real client.
        add("node_special_values", &[], h, &|i| {
            [f64::INFINITY, f64::NEG_INFINITY, 5e-324, 1e-300][i % 4]
        });
    }
    out
}
