//! Shared by the server's end-to-end tests: the binary, configs, and reading a data
//! directory back with the engine.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata_engine::{Engine, EngineConfig, MatchOp, Matcher, TenantId};
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
