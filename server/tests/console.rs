//! The built-in console in a real browser: Debian's Chromium, headless, driven by Selenium
//! (PyPI) through Debian's chromedriver, against the real `strata serve` with seed data.
//! `.ci/test.sh` installs all three. The checks are Python files in `tests/console/`
//! (`harness.py` drives the browser, `seed.py` writes the data through the ingest APIs,
//! one `check_<view>.py` per view); `run.py` runs them and fails on any assertion or browser
//! console error. Screenshots of every view, and the first load's figures
//! (`first-load.json`: bytes transferred, ms to interactive), are left in
//! `$CARGO_TARGET_TMPDIR/console-shots/` as artefacts (`docs/console.md` shows them).

mod common;
#[path = "scrape/exporter.rs"]
mod exporter;

use std::path::Path;
use std::process::Command;

use strata_tests::server::Server;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Where the screenshots and figures go.
fn shots(name: &str) -> String {
    format!("{}/console-shots/{name}", env!("CARGO_TARGET_TMPDIR"))
}

/// Fails, saying what to install, unless Chromium, chromedriver and Selenium are here.
fn require_browser() {
    let mut missing = Vec::new();
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !Path::new(tool).exists() {
            missing.push(tool.to_owned());
        }
    }
    let selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .status();
    if !selenium.is_ok_and(|s| s.success()) {
        missing.push("selenium in the python3 on PATH".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the console's browser tests need {}: .ci/test.sh installs Debian's chromium and \
         chromium-driver and PyPI's selenium in $CARGO_TARGET_DIR/venv",
        missing.join(", ")
    );
}

/// Runs `tests/console/run.py MODE` against `server`, with `env`; panics with its output
/// when a check fails.
fn run_checks(server: &Server, mode: &str, env: &[(&str, String)]) {
    let dir = shots(mode);
    let out = Command::new("python3")
        .arg("tests/console/run.py")
        .arg(mode)
        .arg(format!("http://{}", server.http))
        .arg(&dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser checks failed ({mode}; screenshots in {dir}):\n{stdout}\n{stderr}"
    );
}

#[test]
fn every_view_works_in_chromium_on_seeded_data() {
    require_browser();
    let dir = tempfile::tempdir().expect("tempdir");
    // The targets view's data: the server scrapes a one-series exporter (a file_sd target)
    // and a closed port.
    let exporter = exporter::Exporter::start();
    exporter.set("/metrics", exporter::Page::text("console_demo 1\n"));
    std::fs::create_dir(dir.path().join("sd")).expect("sd");
    std::fs::write(
        dir.path().join("sd/self.json"),
        format!("[{{\"targets\": [\"{}\"]}}]", exporter.addr),
    )
    .expect("sd");
    std::fs::write(
        dir.path().join("prom.yml"),
        "global: {scrape_interval: 1s, scrape_timeout: 900ms}\nscrape_configs:\n  - job_name: self\n    file_sd_configs: [{files: [sd/*.json]}]\n  - job_name: down\n    static_configs: [{targets: [\"127.0.0.1:1\"]}]\n",
    )
    .expect("prom.yml");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[scrape]\nfiles = [\"prom.yml\"]\n",
    );
    server.wait_ready(common::READY);
    run_checks(&server, "views", &[]);
    // The first load's figures are reported (docs/benchmarks.md), not asserted as timings;
    // the size budget is the and holds on any machine.
    let figures = std::fs::read_to_string(format!("{}/first-load.json", shots("views")))
        .expect("first-load.json");
    let figures: serde_json::Value = serde_json::from_str(&figures).expect("JSON");
    let bytes = figures["transferred_bytes"].as_u64().expect("bytes");
    assert!(bytes > 10_000 && bytes < 300 * 1024, "first load {bytes} B");
    server.terminate();
}

#[test]
fn with_tokens_on_the_console_asks_for_one_and_shows_only_its_tenant() {
    require_browser();
    let tokens = [
        ("acme_writer", "acme", "write", false),
        ("acme_reader", "acme", "read", false),
        ("globex_writer", "globex", "write", false),
        ("operator", "acme", "read", true),
    ];
    let mut config = String::new();
    let mut secrets = serde_json::Map::new();
    for (name, tenant, scope, choose) in tokens {
        let secret = format!("console-{name}-secret");
        config.push_str(&format!(
            "[[auth.tokens]]\nsha256 = \"{}\"\ntenant = \"{tenant}\"\nscopes = [\"{scope}\"]\n\
             choose_tenant = {choose}\n",
            sha256_hex(&secret)
        ));
        secrets.insert(name.to_owned(), secret.into());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let tokens = serde_json::Value::Object(secrets).to_string();
    run_checks(&server, "auth", &[("STRATA_CONSOLE_TOKENS", tokens)]);
    server.terminate();
}
