//! The key of `hash` attribute rules: read from `hash_key_file`, or made at first start
//! (32 random bytes) and kept at `<data dir>/relabel/hash.key`, readable by the owner only,
//! so hashed values stay equal across restarts.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
#[error("relabel hash key {}: {reason}", path.display())]
pub struct KeyError {
    /// The key file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// The bytes of `file`, or of the kept key under `data_dir` (made when missing).
pub fn load_or_create(file: Option<&Path>, data_dir: &Path) -> Result<Vec<u8>, KeyError> {
    let err = |path: &Path, reason: String| KeyError {
        path: path.to_owned(),
        reason,
    };
    if let Some(path) = file {
        let key = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
        // A key written with `echo` ends with a newline that is not part of it.
        let key = key.trim_ascii().to_vec();
        if key.len() < 16 {
            return Err(err(
                path,
                format!("{} bytes; at least 16 are needed", key.len()),
            ));
        }
        return Ok(key);
    }
    let dir = data_dir.join("relabel");
    let path = dir.join("hash.key");
    if path.exists() {
        return std::fs::read(&path).map_err(|e| err(&path, e.to_string()));
    }
    std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e.to_string()))?;
    let mut key = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| err(&path, format!("cannot read /dev/urandom: {e}")))?;
    let tmp = dir.join("hash.key.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| err(&tmp, e.to_string()))?;
    f.write_all(&key)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(&tmp, e.to_string()))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(&path, e.to_string()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(None, dir.path()).expect("made");
        assert_eq!(first.len(), 32);
        assert_eq!(load_or_create(None, dir.path()).expect("kept"), first);
        let mode = std::fs::metadata(dir.path().join("relabel/hash.key"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_configured_key_must_be_long_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").expect("write");
        let e = load_or_create(Some(&short), dir.path()).expect_err("short");
        assert!(e.to_string().contains("3 bytes; at least 16"), "{e}");
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").expect("write");
        assert_eq!(
            load_or_create(Some(&good), dir.path()).expect("key").len(),
            20
        );
    }
}
