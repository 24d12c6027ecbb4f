//! `moto_server` (PyPI `moto[server]`, installed by `.ci/test.sh`): a real S3-compatible
//! server on loopback for the object-storage tests.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{Framing, request};

/// A free loopback port.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `moto_server` on a loopback port, killed on drop.
pub struct Moto(Child);

impl Moto {
    /// Starts it on `port` and creates `bucket`.
    pub fn start(port: u16, bucket: &str) -> Self {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("moto_server (PyPI moto[server]; `.ci/test.sh` installs it): {e}")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if request(addr, "GET", "/moto-api/", &[], b"", Framing::Length)
                .is_ok_and(|r| r.status == 200)
            {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let path = format!("/{bucket}");
        let made = request(addr, "PUT", &path, &[], b"", Framing::Length).expect("bucket");
        assert_eq!(made.status, 200, "{}", made.text());
        Self(child)
    }
}

impl Moto {
    /// Its process id (to stop and continue it).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `[storage]` for `bucket` on the moto server at `port`, under `prefix`, with passes and
/// refreshes every second.
pub fn storage_section(port: u16, bucket: &str, prefix: &str) -> String {
    format!(
        r#"
[storage]
backend = "s3"
bucket = "{bucket}"
prefix = "{prefix}"
endpoint = "http://127.0.0.1:{port}"
region = "us-east-1"
allow_http = true
access_key_id = "test"
secret_access_key = "test"
interval = "1s"
delete_grace = "1s"
request_timeout = "2s"
"#
    )
}

/// Waits until `done` holds, looking every 200 ms (panics after 60 s).
pub fn until(what: &str, done: impl FnMut() -> bool) {
    until_every(what, Duration::from_millis(200), done);
}

/// [`until`], looking every `every`.
pub fn until_every(what: &str, every: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(every);
    }
}
