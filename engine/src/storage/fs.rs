//! Durable file-system steps: atomic writes, fsynced directories.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Writes `bytes` to `path` durably and atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(dir)
}

/// Writes `bytes` to `path` through a synced temporary file (`tmp`) renamed into place,
/// without syncing the directory: for derived files written before a manifest write,
/// which syncs it (or the next one does).
pub(crate) fn write_synced(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(tmp).map_err(io(tmp))?;
    f.write_all(bytes).map_err(io(tmp))?;
    f.sync_data().map_err(io(tmp))?;
    drop(f);
    fs::rename(tmp, path).map_err(io(path))
}

/// Maps the file at `derived` (written by [`write_synced`] from the data file at `data`),
/// with the data file's length in bytes (`data_len`, or read from the disk when `None`);
/// `Ok(None)` when there is none.
pub(crate) fn map_derived(
    data: &Path,
    derived: &Path,
    data_len: Option<u64>,
) -> Result<Option<(memmap2::Mmap, u64)>> {
    let file = match File::open(derived) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(derived)(e)),
    };
    let data_len = match data_len {
        Some(n) => n,
        None => fs::metadata(data).map_err(io(data))?.len(),
    };
    #[allow(unsafe_code)]
    // Safety: a derived file is written under a temporary name, synced and renamed into
    // place, and never written again; it is only unlinked (with its data file), which
    // leaves an existing mapping valid.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io(derived))?;
    Ok(Some((map, data_len)))
}

/// fsyncs a directory, making creations, renames and removals in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Creates a directory and its parents, fsyncing each parent that gained an entry.
pub(crate) fn create_dir_durable(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(dir)(e)),
    }
    sync_dir(dir.parent().unwrap_or(Path::new(".")))
}

/// 16 hex digits that name a rewritten file set apart from every other (`d<token>` in
/// its names): from the clock, a process counter and the hasher's random keys, so a name is
/// never used twice, in this process or another, and a mirror never mistakes a new file
/// for an old one of the same name.
pub(crate) fn unique_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(now);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}
