//! Shared by the server's end-to-end tests: the binary, configs, and reading a data
//! directory back with the engine.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::{
    Engine, EngineConfig, LogRecord, MatchOp, Matcher, SignalSnapshot, SpanRecord, TenantId,
    logs_from_batch, spans_from_batch,
};
use strata_tests::remote_write::TestSeries;

/// The `strata` binary Cargo built for these tests.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_strata"))
}

/// How long a server may take to become ready.
pub const READY: Duration = Duration::from_secs(60);

/// Now, in ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Series as compared: labels -> (ts, value bits).
pub type SeriesMap = BTreeMap<Vec<(String, String)>, Vec<(i64, u64)>>;

/// Every series of `tenant` in the data directory.
pub fn read_back(data: &Path, tenant: &str) -> SeriesMap {
    let engine = Engine::open(data, EngineConfig::default()).expect("open the data directory");
    let tenant = TenantId::new(tenant).expect("tenant id");
    let all = Matcher::new("__name__", MatchOp::Regex, ".+").expect("matcher");
    let series = engine
        .select(&tenant, &[all], i64::MIN / 2, i64::MAX / 2)
        .expect("select");
    let out = series
        .into_iter()
        .map(|s| {
            let labels = s
                .labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            let samples = s
                .samples
                .iter()
                .map(|x| (x.ts, x.value.to_bits()))
                .collect();
            (labels, samples)
        })
        .collect();
    engine.close().expect("close");
    out
}

/// What `series` should read back as.
pub fn expected(series: &[TestSeries]) -> SeriesMap {
    series
        .iter()
        .map(|s| {
            (
                s.labels.clone(),
                s.samples.iter().map(|(t, v)| (*t, v.to_bits())).collect(),
            )
        })
        .collect()
}

/// Every record of a snapshot: its files decoded, then its memory.
fn snapshot_records<R>(
    snap: &SignalSnapshot,
    decode: fn(&RecordBatch) -> strata_engine::Result<Vec<R>>,
) -> Vec<R> {
    let mut out = Vec::new();
    for f in &snap.files {
        let file = std::fs::File::open(f.path()).expect("open a snapshot file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .expect("read a snapshot file");
        for batch in reader {
            out.extend(decode(&batch.expect("a record batch")).expect("decode records"));
        }
    }
    for batch in &snap.memory {
        out.extend(decode(batch).expect("decode records"));
    }
    out
}

/// Every span of `tenant` in the data directory (the engine opened on it with `config`,
/// whose retention applies at once, and closed).
pub fn read_spans(data: &Path, config: &EngineConfig, tenant: &str) -> Vec<SpanRecord> {
    let engine = Engine::open(data, config.clone()).expect("open the data directory");
    let tenant = TenantId::new(tenant).expect("tenant id");
    let snap = engine
        .spans_snapshot(&tenant, 0, i64::MAX)
        .expect("spans snapshot");
    let out = snapshot_records(&snap, spans_from_batch);
    drop(snap);
    engine.close().expect("close");
    out
}

/// Every log record of `tenant` in the data directory, as [`read_spans`].
pub fn read_logs(data: &Path, config: &EngineConfig, tenant: &str) -> Vec<LogRecord> {
    let engine = Engine::open(data, config.clone()).expect("open the data directory");
    let tenant = TenantId::new(tenant).expect("tenant id");
    let snap = engine
        .logs_snapshot(&tenant, 0, i64::MAX)
        .expect("logs snapshot");
    let out = snapshot_records(&snap, logs_from_batch);
    drop(snap);
    engine.close().expect("close");
    out
}

/// A child process (a peer: Prometheus, VictoriaMetrics) killed and reaped when dropped.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free now (for a peer started on it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something listens on loopback `port` (a peer just spawned), at most 30 s.
pub fn wait_listening(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs `script` (a Python script using the OpenTelemetry SDK, which `.ci/test.sh`
/// installs in `$CARGO_TARGET_DIR/venv`, first on PATH) with `args`, printing its output;
/// fails, with that output, when the SDK is missing or the script's checks fail.
pub fn run_otel_script(script: &str, args: &[String]) {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "the OpenTelemetry Python SDK is not importable in the python3 on PATH: .ci/test.sh \
         installs it in $CARGO_TARGET_DIR/venv and puts that first on PATH"
    );
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
