//! SIGKILL the real server while a downsampling pass writes a tier file; on restart the
//! pass is done again, and the day ends as one tier set holding every acknowledged sample
//! once (counts and sums per interval as the samples give them), its raw hours gone.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use strata_engine::{Engine, EngineConfig, MatchOp, Matcher, TenantId};
use strata_tests::http::{Framing, request};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

const DAY: i64 = 86_400_000;
const STEP: i64 = 15_000;

/// A day moves into the 5m tier as soon as it is over; maintenance runs every second.
const CONFIG: &str = "[wal]\ndurability = \"fsync\"\n\
    [limits]\ningest_rate = 100000000\ningest_burst = 100000000\n\
    [engine]\nflush_interval = \"1s\"\nmaintenance_interval = \"1s\"\n\
    [[retention.downsampling]]\nafter = \"0s\"\nresolution = \"5m\"\n";

/// Series `s`: a sample every 15 s of the day starting at `day`, its first after the
/// day's start and its last at the day's end (which lives in the next day's first hour).
fn series(s: usize, day: i64) -> TestSeries {
    TestSeries {
        labels: vec![
            ("__name__".into(), "tier_crash".into()),
            ("series".into(), s.to_string()),
        ],
        samples: (1..=DAY / STEP)
            .map(|k| {
                (
                    day + k * STEP,
                    ((k * 7919 + s as i64 * 104_729) % 1000) as f64,
                )
            })
            .collect(),
    }
}

/// The 5m tier's partition of `day` for the default tenant.
fn tier(data: &Path, day: i64) -> PathBuf {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(day).expect("after 1970"));
    let iso = humantime::format_rfc3339(at).to_string();
    data.join(format!("metrics_5m/tenant=default/date={}", &iso[..10]))
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Through the Prometheus API: an aligned window over the tier answers as the raw
/// samples do and says the data was downsampled; the self-metrics count the pass and the
/// tier's bytes.
fn check_api(server: &Server, day: i64, acked: &[TestSeries], part: &Path) {
    let (start, end) = (day + 3_600_000, day + 6 * 3_600_000);
    let q = format!(
        "/api/v1/query_range?query=sum_over_time(tier_crash%7Bseries%3D%227%22%7D%5B1h%5D)&start={}&end={}&step=3600",
        start / 1000,
        end / 1000
    );
    let body: serde_json::Value =
        serde_json::from_str(&server.get(&q, &[]).expect("query_range").text()).expect("json");
    let values = body["data"]["result"][0]["values"]
        .as_array()
        .expect("values")
        .clone();
    let s7 = acked
        .iter()
        .find(|s| {
            s.labels
                .iter()
                .any(|l| l == &("series".to_owned(), "7".to_owned()))
        })
        .expect("series 7");
    assert_eq!(values.len(), 6, "{body}");
    for v in &values {
        let t = (v[0].as_f64().expect("time") * 1000.0) as i64;
        let want: f64 = s7
            .samples
            .iter()
            .filter(|x| x.0 > t - 3_600_000 && x.0 <= t)
            .map(|x| x.1)
            .sum();
        let got: f64 = v[1].as_str().expect("value").parse().expect("a number");
        assert_eq!(got, want, "sum_over_time at {t}");
    }
    let infos = body["infos"].as_array().expect("infos");
    assert!(
        infos
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.contains("downsampled"))),
        "{body}"
    );

    // The self-metrics: the pass after the restart, and the tier's bytes.
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let value = |series: &str| {
        metrics.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
    };
    assert!(
        value("strata_downsample_days_total").is_some_and(|v| v >= 1.0),
        "{metrics}"
    );
    assert!(
        value("strata_downsample_rows_total").is_some_and(|v| v >= 300.0 * 288.0),
        "{metrics}"
    );
    let on_disk: u64 = names(part)
        .iter()
        .filter(|n| n.ends_with(".parquet"))
        .map(|n| std::fs::metadata(part.join(n)).map_or(0, |m| m.len()))
        .sum();
    let tier_bytes = value("strata_disk_bytes{tenant=\"default\",signal=\"metrics_5m\"}");
    assert!(tier_bytes.is_some_and(|b| b >= on_disk as f64), "{metrics}");
}

#[test]
fn a_kill_during_downsampling_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = (common::now_ms() - 2 * DAY).div_euclid(DAY) * DAY;
    let data = data_dir(dir.path());
    let part = tier(&data, day);
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);

    // 300 series of 5,760 samples, 10 series a request.
    let mut acked: Vec<TestSeries> = Vec::new();
    for b in 0..30 {
        let batch: Vec<TestSeries> = (0..10).map(|s| series(b * 10 + s, day)).collect();
        let protos: Vec<_> = batch.iter().map(|s| s.to_proto()).collect();
        let r = request(
            server.http,
            "POST",
            "/api/v1/write",
            &HEADERS,
            &encode(&protos),
            Framing::Length,
        )
        .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
        acked.extend(batch);
    }

    // The kill: as soon as a tier file is being written.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if names(&part).iter().any(|n| n.ends_with(".tmp")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no tier file seen in flight in 180 s: {:?}",
            names(&part)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    server.kill();
    let left = names(&part);
    assert!(
        left.iter().any(|n| n.ends_with(".tmp")),
        "killed mid-pass: {left:?}"
    );

    // Restart: the partial file is discarded, the pass done again.
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let raw_day = data.join(format!(
        "metrics/tenant=default/{}",
        part.file_name().unwrap().to_string_lossy()
    ));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let now = names(&part);
        let done = now.iter().any(|n| n.starts_with("samples-"))
            && !now.iter().any(|n| n.ends_with(".tmp"));
        if done && !raw_day.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not downsampled after 180 s: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    check_api(&server, day, &acked, &part);

    let status = server.terminate();
    assert!(status.success(), "{status}");

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part.join("manifest.json")).expect("manifest"))
            .expect("json");
    let files = manifest["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{manifest}");
    assert_eq!(files[0]["rows"].as_u64(), Some(300 * 288), "{manifest}");

    // Every interval holds its samples once.
    let engine = Engine::open(&data, EngineConfig::default()).expect("open");
    let t = TenantId::new("default").unwrap();
    let m = Matcher::new("__name__", MatchOp::Equal, "tier_crash").unwrap();
    let got = engine.select(&t, &[m], day, day + DAY).expect("select");
    assert_eq!(got.len(), 300);
    for (s, want) in got.iter().zip({
        let mut a = acked.clone();
        a.sort_by(|x, y| x.labels.cmp(&y.labels));
        a
    }) {
        assert_eq!(s.intervals.len(), 288, "{}", s.labels);
        let count: u64 = s.intervals.iter().map(|i| i.count).sum();
        let sum: f64 = s.intervals.iter().map(|i| i.sum).sum();
        assert_eq!(count, 5760, "{}", s.labels);
        let want_sum: f64 = want.samples.iter().map(|x| x.1).sum();
        assert_eq!(sum, want_sum, "{}", s.labels);
    }
    engine.close().expect("close");
}
