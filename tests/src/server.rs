//! Running the real `strata` binary: start it on ephemeral ports with a config file, read
//! the addresses it prints, wait for `/ready`, stop it with SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::http::{Framing, Response, request};

/// A running `strata serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it serves HTTP.
    pub http: SocketAddr,
    /// Where it serves gRPC.
    pub grpc: SocketAddr,
    _stdout: BufReader<ChildStdout>,
}

/// `strata serve --config <dir>/strata.toml --data-dir <dir>/data` on ephemeral loopback
/// ports, with `config` (TOML) as the file, as a command (for [`crate::kill_child`]).
pub fn serve_command(bin: &Path, dir: &Path, config: &str) -> Command {
    let path = dir.join("strata.toml");
    if let Err(e) = std::fs::write(&path, config) {
        panic!("write {}: {e}", path.display());
    }
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--config")
        .arg(&path)
        .arg("--data-dir")
        .arg(data_dir(dir))
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "info");
    cmd
}

/// The data directory [`serve_command`] uses under `dir`.
pub fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

/// Parses `strata listening http=A grpc=B`.
pub fn parse_listening(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.trim().strip_prefix("strata listening ")?;
    let mut http = None;
    let mut grpc = None;
    for part in rest.split(' ') {
        match part.split_once('=')? {
            ("http", a) => http = a.parse().ok(),
            ("grpc", a) => grpc = a.parse().ok(),
            _ => {}
        }
    }
    Some((http?, grpc?))
}

impl Server {
    /// Starts the server (see [`serve_command`]) and waits for its address line; not for
    /// readiness (see [`Server::wait_ready`]).
    pub fn start(bin: &Path, dir: &Path, config: &str) -> Self {
        Self::spawn(serve_command(bin, dir, config))
    }

    /// Starts `cmd` (a [`serve_command`], possibly wrapped: see
    /// [`crate::cgroup::MemoryGroup::wrap`]) and waits for its address line.
    pub fn spawn(mut cmd: Command) -> Self {
        let bin = cmd.get_program().to_owned();
        let bin = Path::new(&bin);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let Some(stdout) = child.stdout.take() else {
            panic!("the child's stdout is not piped");
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        if let Err(e) = stdout.read_line(&mut line) {
            panic!("read the server's first line: {e}");
        }
        let Some((http, grpc)) = parse_listening(&line) else {
            let status = child.wait();
            panic!("the server did not announce its addresses (got {line:?}; exit {status:?})");
        };
        Self {
            child,
            http,
            grpc,
            _stdout: stdout,
        }
    }

    /// Polls `/ready` until 200 (panics after `timeout`).
    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = self.get("/ready", &[])
                && r.status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server was not ready within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A GET.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Response> {
        request(self.http, "GET", path, headers, b"", Framing::Length)
    }

    /// The answer to the PromQL instant query `q` at `t_ms` (`GET /api/v1/query`, the query
    /// percent-encoded), asserted to be a 200.
    pub fn instant_query(&self, q: &str, t_ms: i64, headers: &[(&str, &str)]) -> Response {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let path = format!(
            "/api/v1/query?query={encoded}&time={:.3}",
            t_ms as f64 / 1000.0
        );
        let resp = self.get(&path, headers).expect("query");
        assert_eq!(resp.status, 200, "{q}: {}", resp.text());
        resp
    }

    /// A POST with a Content-Length body.
    pub fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        request(self.http, "POST", path, headers, body, Framing::Length)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Peak resident memory of the server so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// SIGKILLs the server and checks that it died by the signal.
    pub fn kill(mut self) {
        use std::os::unix::process::ExitStatusExt;
        let _ = self.child.kill();
        let status = self.child.wait();
        assert!(
            status.as_ref().is_ok_and(|s| s.signal() == Some(9)),
            "the server did not die by SIGKILL: {status:?}"
        );
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.as_ref().is_ok_and(|s| s.success()),
            "kill -TERM {pid}: {sent:?}"
        );
        match self.child.wait() {
            Ok(s) => s,
            Err(e) => panic!("wait for the server: {e}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed half way must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
