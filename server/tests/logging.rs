//! The server's log lines as a log collector sees them: `strata serve` with stderr
//! redirected to a file, as under systemd or `2>log`. Text carries no colour codes there,
//! and `--log-format json` writes one JSON object per line.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use strata_tests::http::{Framing, request};
use strata_tests::server::{parse_listening, serve_command};

/// Runs `strata serve` (with `extra` flags and environment) from start to a clean SIGTERM
/// shutdown, its stderr written to a file (not a terminal), and returns that file's bytes.
fn serve_logs(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let log = dir.join("stderr.log");
    let stderr = std::fs::File::create(&log).expect("create the log file");
    let mut cmd = serve_command(common::bin(), dir, "");
    cmd.args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = cmd.spawn().expect("spawn strata serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read the address line");
    let Some((http, _)) = parse_listening(&line) else {
        let _ = child.kill();
        panic!("no address line: {line:?}; stderr: {}", read(&log));
    };
    let deadline = Instant::now() + common::READY;
    while !request(http, "GET", "/ready", &[], b"", Framing::Length).is_ok_and(|r| r.status == 200)
    {
        assert!(Instant::now() < deadline, "not ready: {}", read(&log));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let status = child.wait().expect("wait for the server");
    assert!(status.success(), "exit {status:?}: {}", read(&log));
    std::fs::read(&log).expect("read the log file")
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

#[test]
fn text_logs_written_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = serve_logs(dir.path(), &[], &[]);
    let text = String::from_utf8_lossy(&log);
    assert!(!log.contains(&0x1b), "an escape byte in:\n{text}");
    for want in [
        "INFO",
        "engine open, recovery done: ready",
        "engine flushed and closed",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}");
    }
}

#[test]
fn json_logs_are_one_object_per_line_with_the_event_fields() {
    for (flags, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("STRATA_LOG_FORMAT", "json")][..]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = serve_logs(dir.path(), flags, env);
        let text = String::from_utf8_lossy(&log);
        assert!(!log.contains(&0x1b), "an escape byte in:\n{text}");
        let mut messages = Vec::new();
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nin:\n{text}"));
            for key in ["timestamp", "level", "target", "message"] {
                assert!(event[key].is_string(), "no string {key:?} in {line}");
            }
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                    .contains(&event["level"].as_str().unwrap_or("")),
                "{line}"
            );
            messages.push(event["message"].as_str().unwrap_or("").to_owned());
            // The event's own fields sit beside the message.
            if event["message"] == "listening; opening the engine" {
                assert!(event["http_addr"].is_string(), "{line}");
                assert_eq!(event["auth"], false, "{line}");
            }
        }
        for want in [
            "listening; opening the engine",
            "engine open, recovery done: ready",
            "engine flushed and closed",
        ] {
            assert!(
                messages.iter().any(|m| m == want),
                "no {want:?} in:\n{text}"
            );
        }
    }
}
