//! `[server.tls] self_signed = true`: a certificate the server makes for itself at its
//! first start and keeps under the data directory (`tls/self-signed.pem` and
//! `tls/self-signed.key`, the key readable by the owner only), so that it stays the same
//! across restarts and clients can trust that one file. It names `localhost`, the loopback
//! addresses, the machine's host name and the listeners' addresses. Delete both files to
//! make a new one at the next start.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use tracing::info;

use super::TlsError;
use crate::config::TlsFiles;

/// `base` with the self-signed certificate's files under `data_dir`, made now if they are
/// not there, for `addrs`.
pub(crate) fn files(
    base: &TlsFiles,
    data_dir: &Path,
    addrs: &[SocketAddr],
) -> Result<TlsFiles, TlsError> {
    let dir = data_dir.join("tls");
    let files = TlsFiles {
        cert_file: dir.join("self-signed.pem"),
        key_file: dir.join("self-signed.key"),
        ..base.clone()
    };
    if files.cert_file.exists() && files.key_file.exists() {
        return Ok(files);
    }
    let err = |path: &Path, reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e.to_string()))?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_owned());
    }
    for a in addrs {
        if !a.ip().is_unspecified() {
            names.push(a.ip().to_string());
        }
    }
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    let made = rcgen::generate_simple_self_signed(names.clone()).map_err(|e| TlsError::Setup {
        reason: format!("cannot make a self-signed certificate: {e}"),
    })?;
    write_private(&files.key_file, made.key_pair.serialize_pem().as_bytes())
        .map_err(|e| err(&files.key_file, e.to_string()))?;
    std::fs::write(&files.cert_file, made.cert.pem())
        .map_err(|e| err(&files.cert_file, e.to_string()))?;
    info!(
        cert = %files.cert_file.display(),
        ?names,
        "made a self-signed TLS certificate: give this file to clients as their CA"
    );
    Ok(files)
}

/// Writes `bytes` to a new file at `path` that only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
