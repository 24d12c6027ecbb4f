//! The `strata` binary's command line, run as a real process.

use std::process::Command;

fn strata(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .output()
        .expect("spawn the strata binary")
}

#[test]
fn version_prints_the_package_version() {
    let out = strata(&["version"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        format!("strata {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_config_applies_defaults_file_env_then_flags() {
    let out = strata(&["check-config"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("data_dir=./strata-data"), "{stdout}");
    assert!(stdout.contains("http_addr=127.0.0.1:4318"), "{stdout}");
    assert!(stdout.contains("grpc_addr=127.0.0.1:4317"), "{stdout}");
    assert!(stdout.contains("auth=off"), "{stdout}");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("strata.toml");
    std::fs::write(
        &path,
        "data_dir = \"/from/file\"\n[server]\nhttp_addr = \"127.0.0.1:1000\"\ngrpc_addr = \"127.0.0.1:1001\"\n[retention]\nmetrics = \"7d\"\n",
    )
    .expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["check-config", "--config"])
        .arg(&path)
        .args(["--http-addr", "127.0.0.1:3000"])
        .env("STRATA_HTTP_ADDR", "127.0.0.1:2000")
        .env("STRATA_GRPC_ADDR", "127.0.0.1:2001")
        .output()
        .expect("spawn");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("data_dir=/from/file"), "{stdout}");
    assert!(stdout.contains("http_addr=127.0.0.1:3000"), "{stdout}");
    assert!(stdout.contains("grpc_addr=127.0.0.1:2001"), "{stdout}");
    assert!(stdout.contains("metrics_retention=7days"), "{stdout}");
}

#[test]
fn check_config_names_a_bad_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "[limits]\nmax_activ_series = 3\n").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("spawn");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_activ_series"), "{stderr}");
}

#[test]
fn promql_queries_a_data_directory_offline() {
    use strata_engine::{Engine, EngineConfig, Sample, SeriesSamples, TenantId};
    let dir = tempfile::tempdir().expect("tempdir");
    let t = 1_700_000_000_000i64;
    {
        let mut config = EngineConfig::default();
        config.limits.metrics_retention = std::time::Duration::from_secs(100 * 365 * 86_400);
        let engine = Engine::open(dir.path(), config).expect("open");
        let up = |job: &str, v: f64| SeriesSamples {
            labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
            samples: vec![Sample { ts: t, value: v }],
        };
        let tenant = TenantId::new("acme").expect("tenant");
        engine
            .write(&tenant, &[up("api", 1.0), up("db", 0.0)])
            .expect("write");
        engine.close().expect("close");
    }
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args([
                "promql",
                "--tenant",
                "acme",
                "--time",
                "1700000000",
                "--retention-metrics",
                "36500d",
                "--format",
                format,
                "--data-dir",
            ])
            .arg(dir.path())
            .arg("sort_desc(sum by (job) (up))")
            .output()
            .expect("spawn");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run("csv"),
        "series,timestamp,value\n\"{job=\"\"api\"\"}\",1700000000,1\n\"{job=\"\"db\"\"}\",1700000000,0\n"
    );
    let json = run("json");
    assert!(json.contains("\"resultType\":\"vector\""), "{json}");
    assert!(json.contains("\"value\":[1700000000,\"1\"]"), "{json}");
    let table = run("table");
    assert!(
        table.lines().next().unwrap_or("").starts_with("series"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn unknown_flags_are_rejected() {
    let out = strata(&["serve", "--no-such-flag"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
