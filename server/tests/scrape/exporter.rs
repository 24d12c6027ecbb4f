//! A test exporter: an HTTP/1.1 server on loopback answering each path with what the test
//! set for it (status, Content-Type, body, a delay, gzip when asked), and counting the
//! requests with the headers they carried.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a path answers.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) delay: Duration,
    /// Gzip the body when the request accepts it.
    pub(crate) gzip: bool,
}

impl Page {
    pub(crate) fn text(body: &str) -> Self {
        Self {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
            gzip: false,
        }
    }
}

/// A request's path and headers.
pub(crate) type Request = (String, Vec<(String, String)>);

/// The running exporter.
#[derive(Clone)]
pub(crate) struct Exporter {
    pub(crate) addr: SocketAddr,
    pages: Arc<Mutex<HashMap<String, Page>>>,
    /// Each request's path and headers (lower-case names).
    pub(crate) requests: Arc<Mutex<Vec<Request>>>,
}

impl Exporter {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let me = Self {
            addr: listener.local_addr().expect("addr"),
            pages: Arc::default(),
            requests: Arc::default(),
        };
        let server = me.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = server.clone();
                std::thread::spawn(move || {
                    let _ = s.answer(conn);
                });
            }
        });
        me
    }

    pub(crate) fn set(&self, path: &str, page: Page) {
        self.pages.lock().unwrap().insert(path.to_owned(), page);
    }

    fn answer(&self, conn: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(conn.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let path = path.split('?').next().unwrap_or("/").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let accepts_gzip = headers
            .iter()
            .any(|(n, v)| n == "accept-encoding" && v.contains("gzip"));
        self.requests.lock().unwrap().push((path.clone(), headers));
        let page = self.pages.lock().unwrap().get(&path).cloned();
        let mut conn = conn;
        let Some(page) = page else {
            return conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        };
        std::thread::sleep(page.delay);
        let (body, encoding) = if page.gzip && accepts_gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&page.body)?;
            (e.finish()?, "Content-Encoding: gzip\r\n")
        } else {
            (page.body.clone(), "")
        };
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
            page.status,
            page.content_type,
            body.len()
        );
        conn.write_all(head.as_bytes())?;
        conn.write_all(&body)
    }
}
