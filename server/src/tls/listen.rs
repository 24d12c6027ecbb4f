//! A TLS listener: accepts TCP connections and runs each handshake on a task of its own (a
//! slow or plaintext client holds up no other), handing over the connections whose
//! handshake finished, to axum ([`Incoming`] is an `axum::serve::Listener`) or to tonic
//! ([`Incoming::grpc`]). A failed handshake (a plaintext client, an untrusted client) is
//! counted ([`HANDSHAKE_FAILURES`]) and logged at debug level.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};
use tracing::debug;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes that failed or timed out since the process started, both listeners.
pub(crate) static HANDSHAKE_FAILURES: AtomicU64 = AtomicU64::new(0);

/// The connections of one listener whose handshake finished.
pub(crate) struct Incoming {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// Starts accepting on `listener` with `config`; `what` names the listener in logs.
pub(crate) fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    what: &'static str,
) -> io::Result<Incoming> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while !tx.is_closed() {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum's listener does.
                    debug!(listener = what, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // See serve.rs: without it small writes wait for delayed ACKs.
            if let Err(e) = tcp.set_nodelay(true) {
                debug!(listener = what, error = %e, "cannot set TCP_NODELAY");
            }
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send((tls, peer)).await;
                    }
                    Ok(Err(e)) => {
                        HANDSHAKE_FAILURES.fetch_add(1, Ordering::Relaxed);
                        debug!(listener = what, %peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => {
                        HANDSHAKE_FAILURES.fetch_add(1, Ordering::Relaxed);
                        debug!(listener = what, %peer, "TLS handshake timed out");
                    }
                }
            });
        }
    });
    Ok(Incoming { rx, local })
}

impl axum::serve::Listener for Incoming {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The accepting task ended (the runtime is shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Incoming {
    /// The connections as tonic's `serve_with_incoming` takes them.
    pub(crate) fn grpc(self) -> impl Stream<Item = io::Result<Conn>> {
        futures::stream::unfold(self.rx, |mut rx| async move {
            rx.recv().await.map(|(tls, _)| (Ok(Conn(tls)), rx))
        })
    }
}

/// A TLS connection to a gRPC client, with the TCP peer's address for tonic.
pub(crate) struct Conn(TlsStream<TcpStream>);

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}
