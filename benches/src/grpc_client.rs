//! A minimal gRPC unary client for the load generators: one HTTP/2 connection (the `h2`
//! crate, on a current-thread tokio runtime owned by the caller's thread) that sends an
//! already encoded protobuf message and returns the call's status and response message,
//! so that the load measures the server, not a client's encoding of the same bytes twice.

use std::fmt;

use prost::bytes::Bytes;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The runtime, the connection or the HTTP/2 stream failed.
    #[error("gRPC to {addr}: {what}")]
    Transport {
        /// The server's address.
        addr: String,
        /// What failed.
        what: String,
    },
}

/// A finished call: its `grpc-status` code, `grpc-message`, and the response message.
pub struct Reply {
    /// The gRPC status code (0 is OK).
    pub code: u32,
    /// The status message, if any.
    pub message: String,
    /// The response message's bytes, without the 5-byte prefix.
    pub body: Vec<u8>,
}

/// One HTTP/2 connection to a gRPC server.
pub struct GrpcConn {
    rt: tokio::runtime::Runtime,
    send: h2::client::SendRequest<Bytes>,
    addr: String,
}

impl fmt::Debug for GrpcConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcConn")
            .field("addr", &self.addr)
            .finish()
    }
}

impl GrpcConn {
    /// Connects to `addr` (`host:port`).
    pub fn new(addr: &str) -> Result<Self, GrpcError> {
        let fail = |what: String| GrpcError::Transport {
            addr: addr.to_owned(),
            what,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("runtime: {e}")))?;
        let send = rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| fail(format!("connect: {e}")))?;
            tcp.set_nodelay(true).map_err(|e| fail(e.to_string()))?;
            let (send, conn) = h2::client::handshake(tcp)
                .await
                .map_err(|e| fail(format!("handshake: {e}")))?;
            // Runs while this thread is inside `block_on` (every call).
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, GrpcError>(send)
        })?;
        Ok(Self {
            rt,
            send,
            addr: addr.to_owned(),
        })
    }

    /// Calls `path` (`/package.Service/Method`) with `message` (encoded protobuf) and
    /// `headers` as metadata, and waits for the reply.
    pub fn call(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        message: &[u8],
    ) -> Result<Reply, GrpcError> {
        let addr = self.addr.clone();
        let fail = |what: String| GrpcError::Transport {
            addr: addr.clone(),
            what,
        };
        let mut framed = Vec::with_capacity(5 + message.len());
        framed.push(0);
        let len = u32::try_from(message.len()).map_err(|_| fail("message over 4 GiB".into()))?;
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        let mut req = h2::client::SendRequest::clone(&self.send);
        self.rt.block_on(async {
            req = req.ready().await.map_err(|e| fail(e.to_string()))?;
            let mut builder = http::Request::builder()
                .method("POST")
                .uri(format!("http://{addr}{path}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers");
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            let request = builder.body(()).map_err(|e| fail(e.to_string()))?;
            let (answer, mut stream) = req
                .send_request(request, false)
                .map_err(|e| fail(e.to_string()))?;
            stream
                .send_data(Bytes::from(framed), true)
                .map_err(|e| fail(e.to_string()))?;
            let answer = answer.await.map_err(|e| fail(e.to_string()))?;
            let head = answer.headers().clone();
            let mut body = answer.into_body();
            let mut data = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.map_err(|e| fail(e.to_string()))?;
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let trailers = body
                .trailers()
                .await
                .map_err(|e| fail(e.to_string()))?
                .unwrap_or_default();
            // A trailers-only answer carries its status in the headers.
            let field = |name: &str| {
                trailers
                    .get(name)
                    .or_else(|| head.get(name))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let code = field("grpc-status")
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| fail("no grpc-status".into()))?;
            Ok(Reply {
                code,
                message: field("grpc-message").unwrap_or_default(),
                body: data.get(5..).unwrap_or_default().to_vec(),
            })
        })
    }
}
