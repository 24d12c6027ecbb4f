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
fn serve_defaults_to_loopback_and_the_embedded_data_dir() {
    let out = strata(&["serve"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("HTTP on 127.0.0.1:4318"), "{stdout}");
    assert!(stdout.contains("gRPC on 127.0.0.1:4317"), "{stdout}");
    assert!(stdout.contains("./strata-data"), "{stdout}");
}

#[test]
fn unknown_flags_are_rejected() {
    let out = strata(&["serve", "--no-such-flag"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}
