//! The file steps of a checkpoint (`lifecycle/checkpoint.rs`): the target directory checked,
//! immutable files hard-linked (copied when the target is on another file system or the
//! file system has no hard links), small mutable files written anew, directories fsynced.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::model::delete::invalid;
use crate::storage::fs::{io, sync_dir};

/// How a file reached the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    /// A hard link to the same inode: no bytes copied.
    Linked,
    /// A copy, fsynced.
    Copied,
}

/// Makes `dest` ready to take a checkpoint: creates it (and its parents) when absent; an
/// existing `dest` must be an empty directory. Returns whether it was created.
pub(crate) fn prepare_dest(dest: &Path) -> Result<bool> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(invalid(format!(
                    "checkpoint directory {} is not empty",
                    dest.display()
                )));
            }
            Ok(false)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(io(dest))?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotADirectory => Err(invalid(format!(
            "checkpoint target {} is a file",
            dest.display()
        ))),
        Err(e) => Err(io(dest)(e)),
    }
}

/// Places the immutable file `src` at `dst`: a hard link, or, when that fails (`dst` on
/// another file system, or one without hard links), a copy fsynced before it returns.
/// Returns how, and the file's size. The directory entry is made durable by the caller
/// ([`sync_dirs`]).
pub(crate) fn link_or_copy(src: &Path, dst: &Path) -> Result<(Placed, u64)> {
    let len = fs::metadata(src).map_err(io(src))?.len();
    match fs::hard_link(src, dst) {
        Ok(()) => return Ok((Placed::Linked, len)),
        // The source went away: not something a copy would fix.
        Err(e) if e.kind() == ErrorKind::NotFound && !src.exists() => return Err(io(src)(e)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(io(dst)(e)),
        Err(_) => {}
    }
    fs::copy(src, dst).map_err(io(dst))?;
    File::open(dst)
        .and_then(|f| f.sync_all())
        .map_err(io(dst))?;
    Ok((Placed::Copied, len))
}

/// Every directory from each of `dirs` up to and including `root`, deepest first.
pub(crate) fn dirs_up_to(root: &Path, dirs: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut all = BTreeSet::new();
    for dir in dirs {
        let mut d = Some(dir.as_path());
        while let Some(cur) = d {
            if !cur.starts_with(root) {
                break;
            }
            all.insert(cur.to_owned());
            if cur == root {
                break;
            }
            d = cur.parent();
        }
    }
    let mut out: Vec<PathBuf> = all.into_iter().collect();
    // Deeper paths first: a directory's entry in its parent is synced after its contents.
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// fsyncs each directory of `dirs`, in order.
pub(crate) fn sync_dirs(dirs: &[PathBuf]) -> Result<()> {
    for d in dirs {
        sync_dir(d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_must_be_absent_or_an_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("a/b");
        assert!(prepare_dest(&fresh).unwrap());
        assert!(!prepare_dest(&fresh).unwrap(), "empty: taken as it is");
        std::fs::write(fresh.join("x"), b"x").unwrap();
        let e = prepare_dest(&fresh).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        let e = prepare_dest(&fresh.join("x")).unwrap_err().to_string();
        assert!(e.contains("is a file"), "{e}");
    }

    #[test]
    fn a_file_on_another_file_system_is_copied_and_synced() {
        use std::os::unix::fs::MetadataExt;
        let src_dir = tempfile::tempdir().unwrap();
        let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
            eprintln!("no /dev/shm: nothing to copy across");
            return;
        };
        let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
        if dev(src_dir.path()) == dev(other.path()) {
            eprintln!("/dev/shm is on the same file system here: nothing to copy across");
            return;
        }
        let src = src_dir.path().join("src");
        std::fs::write(&src, b"abcd").unwrap();
        let dst = other.path().join("dst");
        assert_eq!(link_or_copy(&src, &dst).unwrap(), (Placed::Copied, 4));
        assert_eq!(std::fs::read(&dst).unwrap(), b"abcd");
    }

    #[test]
    fn files_are_linked_and_directories_listed_deepest_first() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"abc").unwrap();
        let dst = dir.path().join("dst");
        assert_eq!(link_or_copy(&src, &dst).unwrap(), (Placed::Linked, 3));
        assert!(
            link_or_copy(&src, &dst).is_err(),
            "never over an existing file"
        );
        assert!(link_or_copy(&dir.path().join("none"), &dir.path().join("n")).is_err());
        let root = dir.path();
        let dirs = dirs_up_to(root, [root.join("a/b"), root.join("a/c"), root.join("d")]);
        assert_eq!(dirs.last().map(PathBuf::as_path), Some(root));
        assert_eq!(dirs.len(), 5);
        assert!(dirs[0].components().count() > dirs[3].components().count());
    }
}
