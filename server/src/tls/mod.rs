//! TLS on both listeners (`[server.tls]`, `docs/configuration.md`), with rustls and its
//! ring provider. The certificate chain and the private key are PEM files, read at start
//! (a file that does not load stops the start, naming it) and again when either file's
//! modification time changes, checked at most once a second, on a handshake: a renewed
//! certificate is served without a restart. A renewal that does not load is logged and the
//! last good pair kept. With `client_ca_file`, clients must present a certificate that
//! chains to one of its CAs (mutual TLS; the CA file is reloaded the same way, so a CA can
//! be added or rotated without a restart). With TLS on, a
//! plaintext client fails the handshake and is served nothing ([`listen`]).

pub(crate) mod listen;
pub(crate) mod self_signed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tracing::{info, warn};

use crate::config::TlsFiles;

/// How often a handshake may look at the files' modification times.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("tls: {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key does not sign for the certificate, or rustls refused the setup.
    #[error("tls: {reason}")]
    Setup {
        /// Why.
        reason: String,
    },
}

/// The server's TLS settings for each listener.
#[derive(Clone)]
pub(crate) struct Tls {
    /// For the HTTP listener (HTTP/1.1).
    pub(crate) http: Arc<ServerConfig>,
    /// For the gRPC listener (HTTP/2).
    pub(crate) grpc: Arc<ServerConfig>,
}

impl Tls {
    /// Loads `files` and builds a config per listener, both serving the same (reloaded)
    /// certificate.
    pub(crate) fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = Arc::new(Reloading::new(files, provider.clone())?);
        let clients: Option<Arc<dyn ClientCertVerifier>> = match &files.client_ca_file {
            Some(path) => Some(Arc::new(ReloadingClients::new(path, provider.clone())?)),
            None => None,
        };
        let config = |alpn: &[&[u8]]| -> Result<Arc<ServerConfig>, TlsError> {
            let builder = ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Setup {
                    reason: e.to_string(),
                })?;
            let builder = match &clients {
                Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
                None => builder.with_no_client_auth(),
            };
            let mut c = builder.with_cert_resolver(resolver.clone());
            c.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(Arc::new(c))
        };
        Ok(Self {
            http: config(&[b"http/1.1"])?,
            grpc: config(&[b"h2"])?,
        })
    }
}

/// Requires client certificates that chain to a CA in the PEM file at `path`.
fn client_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let file_err = |reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_err(e.to_string()))? {
        roots
            .add(cert.map_err(|e| file_err(e.to_string()))?)
            .map_err(|e| file_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(file_err("holds no CERTIFICATE".into()));
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| file_err(e.to_string()))
}

/// Client certificates checked against the CA file, loaded again once it changes (looked
/// at most once a second, on a handshake); a change that does not load is logged and the
/// previous CAs kept.
#[derive(Debug)]
struct ReloadingClients {
    path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Arc<dyn ClientCertVerifier>, Option<SystemTime>, Instant)>,
}

impl ReloadingClients {
    fn new(path: &Path, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let verifier = client_verifier(path, provider.clone())?;
        Ok(Self {
            path: path.to_owned(),
            provider,
            current: RwLock::new((verifier, modified(path), Instant::now())),
        })
    }

    /// The verifier, reloaded first when the file changed.
    fn verifier(&self) -> Option<Arc<dyn ClientCertVerifier>> {
        let fresh = self
            .current
            .read()
            .ok()
            .filter(|c| c.2.elapsed() < CHECK_EVERY)
            .map(|c| c.0.clone());
        if fresh.is_some() {
            return fresh;
        }
        let mut current = self.current.write().ok()?;
        current.2 = Instant::now();
        let now = modified(&self.path);
        if now != current.1 {
            current.1 = now;
            match client_verifier(&self.path, self.provider.clone()) {
                Ok(v) => {
                    current.0 = v;
                    info!(client_ca_file = %self.path.display(), "TLS client CAs reloaded");
                }
                Err(e) => {
                    warn!(error = %e, "the changed client CA file does not load; keeping the previous CAs")
                }
            }
        }
        Some(current.0.clone())
    }
}

impl ClientCertVerifier for ReloadingClients {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No CA names are sent (they live behind the reload's lock): clients offer the
    /// certificate they have, which is what curl, Prometheus and the OTel SDKs do anyway.
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        let v = self
            .verifier()
            .ok_or_else(|| rustls::Error::General("client CA lock poisoned".into()))?;
        v.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The modification times of the two files (`None` where unreadable).
type Stamp = (Option<SystemTime>, Option<SystemTime>);

fn stamp(files: &TlsFiles) -> Stamp {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(&files.cert_file), m(&files.key_file))
}

/// The chain and key of `files`, checked to belong together.
fn certified(files: &TlsFiles, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, TlsError> {
    let file_err = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
        .map_err(|e| file_err(&files.cert_file, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&files.cert_file, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_err(&files.cert_file, "holds no CERTIFICATE".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| file_err(&files.key_file, e.to_string()))?;
    let signer = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| file_err(&files.key_file, e.to_string()))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| TlsError::Setup {
        reason: format!(
            "the key in {} is not the certificate's in {}: {e}",
            files.key_file.display(),
            files.cert_file.display()
        ),
    })?;
    Ok(Arc::new(certified))
}

/// The certificate served, and when its files were last looked at.
#[derive(Debug)]
struct Current {
    key: Arc<CertifiedKey>,
    stamp: Stamp,
    checked: Instant,
}

/// Serves the certificate of the files, loading them again once they change.
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Current>,
}

impl Reloading {
    fn new(files: &TlsFiles, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamp = stamp(files);
        let key = certified(files, &provider)?;
        Ok(Self {
            files: files.clone(),
            provider,
            current: RwLock::new(Current {
                key,
                stamp,
                checked: Instant::now(),
            }),
        })
    }

    /// Loads the files again if a second has passed since the last look and they changed.
    fn refresh(&self) {
        if self
            .current
            .read()
            .is_ok_and(|c| c.checked.elapsed() < CHECK_EVERY)
        {
            return;
        }
        let Ok(mut current) = self.current.write() else {
            return;
        };
        current.checked = Instant::now();
        let now = stamp(&self.files);
        if now == current.stamp {
            return;
        }
        current.stamp = now;
        match certified(&self.files, &self.provider) {
            Ok(key) => {
                current.key = key;
                info!(cert = %self.files.cert_file.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                warn!(error = %e, "the changed TLS files do not load; serving the previous certificate")
            }
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        self.current.read().ok().map(|c| c.key.clone())
    }
}
