//! A minimal keep-alive HTTP/1.1 client over a plain `TcpStream`, for the load binaries:
//! one connection per thread, requests sent back to back, responses framed by
//! `Content-Length` or `Transfer-Encoding: chunked`. No TLS, no redirects.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The base URL is not `http://host:port[/prefix]`.
    #[error("bad base URL {0:?}: expected http://host:port")]
    BadUrl(String),
    /// Connecting, writing or reading failed.
    #[error("i/o with {addr}: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The response could not be parsed.
    #[error("malformed response from {addr}: {what}")]
    Malformed {
        /// The server.
        addr: SocketAddr,
        /// What was wrong.
        what: String,
    },
}

/// A response: status, the headers this client looks at, and the body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Retry-After` in seconds, when present and numeric.
    pub retry_after: Option<u64>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// One keep-alive connection to `addr` (reconnects once when the server closed it).
pub struct Conn {
    addr: SocketAddr,
    host: String,
    prefix: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    /// A connection (opened lazily) to the server of `base`, e.g. `http://127.0.0.1:4318`;
    /// a path in `base` is prefixed to every request path.
    pub fn new(base: &str) -> Result<Self, HttpError> {
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| HttpError::BadUrl(base.to_owned()))?;
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let addr = host
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| HttpError::BadUrl(base.to_owned()))?;
        Ok(Self {
            addr,
            host: host.to_owned(),
            prefix: prefix.to_owned(),
            stream: None,
        })
    }

    /// `POST path` with `body` and the extra `headers`.
    pub fn post(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        self.request("POST", path, headers, body)
    }

    /// `GET path` (`path` includes the query string, already encoded) with the extra
    /// `headers`.
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        self.request("GET", path, headers, &[])
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        // A kept-alive connection the server has closed fails on first use: retry once on
        // a fresh one. A fresh connection's failure is reported.
        let reused = self.stream.is_some();
        match self.try_request(method, path, headers, body) {
            Err(HttpError::Io { .. }) if reused => {
                self.stream = None;
                self.try_request(method, path, headers, body)
            }
            other => other,
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        let addr = self.addr;
        let io = |source| HttpError::Io { addr, source };
        let mut reader = match self.stream.take() {
            Some(r) => r,
            None => {
                let s = TcpStream::connect(addr).map_err(io)?;
                s.set_nodelay(true).map_err(io)?;
                s.set_read_timeout(Some(Duration::from_secs(600)))
                    .map_err(io)?;
                BufReader::with_capacity(64 * 1024, s)
            }
        };
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.prefix,
            self.host,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body).map_err(io)?;
        let result = read_response(&mut reader, addr);
        if let Ok((_, false)) = &result {
            self.stream = Some(reader);
        }
        result.map(|(r, _)| r)
    }
}

/// Reads one response; the flag says whether the server will close the connection.
fn read_response(
    reader: &mut BufReader<TcpStream>,
    addr: SocketAddr,
) -> Result<(Response, bool), HttpError> {
    let io = |source| HttpError::Io { addr, source };
    let bad = |what: String| HttpError::Malformed { addr, what };
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(io)? == 0 {
        return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let (mut length, mut chunked, mut close, mut retry_after) = (None, false, false, None);
    loop {
        line.clear();
        reader.read_line(&mut line).map_err(io)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(bad(format!("header {l:?}")));
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(value.parse::<usize>().map_err(|e| bad(e.to_string()))?)
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "retry-after" => retry_after = value.parse().ok(),
            _ => {}
        }
    }
    let mut body = Vec::new();
    // 1xx, 204 and 304 answers have no body, whatever their headers say (RFC 9112 6.3).
    if status < 200 || status == 204 || status == 304 {
        // nothing to read
    } else if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(io)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|e| bad(format!("chunk size {line:?}: {e}")))?;
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).map_err(io)?;
            line.clear();
            reader.read_line(&mut line).map_err(io)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body).map_err(io)?;
    } else {
        reader.read_to_end(&mut body).map_err(io)?;
        close = true;
    }
    Ok((
        Response {
            status,
            retry_after,
            body,
        },
        close,
    ))
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
