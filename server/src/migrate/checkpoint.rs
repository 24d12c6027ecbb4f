//! The import's checkpoint file: which source and range it is for, and the parts done (a
//! remote source's slices by index; a file's batches by the offset after the last done).
//! Written atomically after each part; an import started with other flags starts over.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    source: String,
    done: BTreeSet<usize>,
    /// A file source's byte offset after the last part done.
    offset: u64,
}

/// The checkpoint of one import.
pub(super) struct Checkpoint {
    path: PathBuf,
    file: File,
}

impl Checkpoint {
    /// The checkpoint at `path` if it is `source`'s, else a fresh one.
    pub(super) fn load(path: &Path, source: &str) -> Result<Self> {
        let file = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<File>(&bytes)
                .ok()
                .filter(|f| f.source == source)
                .unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => return Err(Error::Usage(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(Self {
            path: path.to_owned(),
            file: File {
                source: source.to_owned(),
                ..file
            },
        })
    }

    pub(super) fn done(&self) -> usize {
        self.file.done.len()
    }

    pub(super) fn is_done(&self, unit: usize) -> bool {
        self.file.done.contains(&unit)
    }

    pub(super) fn offset(&self) -> u64 {
        self.file.offset
    }

    /// Records part `unit` as done (and a file's offset after it).
    pub(super) fn mark(&mut self, unit: usize, offset: Option<u64>) -> Result<()> {
        self.file.done.insert(unit);
        if let Some(o) = offset {
            self.file.offset = o;
        }
        let bytes = serde_json::to_vec(&self.file)
            .map_err(|e| Error::Server(format!("checkpoint: {e}")))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| Error::Usage(format!("cannot write {}: {e}", self.path.display())))
    }

    pub(super) fn remove(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Usage(format!(
                "cannot remove {}: {e}",
                self.path.display()
            ))),
        }
    }
}
