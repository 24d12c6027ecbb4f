//! Keys below a bucket prefix, shared by the writer's mirror and a query process's reader.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path as Key;

use super::RemoteError;
use crate::signal_kind::Signal;
use crate::storage::tier_paths::{parse_resolution, tier_root};

/// The writer's catalog of the bucket, at `<prefix>/_catalog.json`: every manifest object
/// (by partition directory, with the CRC-32C of its bytes) and the sizes of the objects
/// they name. Written at the end of each mirror pass that changed a manifest, so a query
/// process reads one small object (a conditional GET: unchanged costs no body) instead of
/// listing the whole prefix at each refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Catalog {
    pub(crate) version: u32,
    pub(crate) manifests: BTreeMap<String, u32>,
    pub(crate) sizes: BTreeMap<String, u64>,
}

/// Where the catalog is, relative to the prefix.
pub(crate) const CATALOG_KEY: &str = "_catalog.json";

/// The catalog format this build writes and reads.
pub(crate) const CATALOG_VERSION: u32 = 1;

/// An object below the prefix as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) size: u64,
    /// The store's version tag (S3's ETag), when it gives one.
    pub(crate) e_tag: Option<String>,
}

/// Runs `f` on `runtime` (the mirror's or the reader's own) from any thread, also one
/// inside another runtime; an error once the runtime is stopped.
pub(crate) fn block_on<T: Send + 'static>(
    runtime: Option<&tokio::runtime::Runtime>,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T, RemoteError> {
    let rt = runtime.ok_or_else(|| RemoteError::Runtime("stopped".into()))?;
    wait(rt.spawn(f))
}

/// Waits for `task` (on the object store's runtime) on this thread. Called from a worker
/// of a multi-threaded tokio runtime (a query's planning fetching a file), the worker
/// hands its other tasks over first (`block_in_place`), so the server goes on answering
/// meanwhile instead of stalling behind the download.
pub(crate) fn wait<T>(task: tokio::task::JoinHandle<T>) -> Result<T, RemoteError> {
    let block = || futures::executor::block_on(task);
    let done = match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(block)
        }
        _ => block(),
    };
    done.map_err(|e| RemoteError::Runtime(e.to_string()))
}

/// The bucket key of `key` (relative to `prefix`).
pub(crate) fn location(prefix: &str, key: &str) -> Result<Key, RemoteError> {
    let full = if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}/{key}")
    };
    Key::parse(&full).map_err(|_| RemoteError::Key(full))
}

/// Every object below `prefix`, by key relative to it.
pub(crate) async fn list(
    store: &dyn ObjectStore,
    prefix: &str,
) -> Result<BTreeMap<String, Listed>, RemoteError> {
    let under = (!prefix.is_empty()).then(|| Key::from(prefix));
    let metas: Vec<_> = store
        .list(under.as_ref())
        .try_collect()
        .await
        .map_err(|e| store_error("list", prefix, e))?;
    let mut out = BTreeMap::new();
    for m in metas {
        let full = m.location.as_ref();
        let rel = if prefix.is_empty() {
            Some(full)
        } else {
            full.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
        };
        if let Some(rel) = rel {
            let listed = Listed {
                size: m.size,
                e_tag: m.e_tag,
            };
            out.insert(rel.to_owned(), listed);
        }
    }
    Ok(out)
}

/// Whether a key is a partition's (below a signal's or a downsampled tier's directory):
/// the mirror deletes only those.
pub(crate) fn is_data(key: &str) -> bool {
    signal_of(key).is_some() || tier_of(key).is_some()
}

/// The resolution (ms) of the downsampled tier whose directory (`metrics_<res>`) holds
/// `key`.
pub(crate) fn tier_of(key: &str) -> Option<i64> {
    let (root, rest) = key.split_once('/')?;
    let res = root.strip_prefix("metrics_").and_then(parse_resolution)?;
    (tier_root(res) == root && !rest.is_empty()).then_some(res)
}

/// The signal whose directory holds `key`.
pub(crate) fn signal_of(key: &str) -> Option<Signal> {
    [Signal::Metrics, Signal::Traces, Signal::Logs]
        .into_iter()
        .find(|s| {
            key.strip_prefix(s.dir())
                .is_some_and(|r| r.starts_with('/'))
        })
}

pub(crate) fn store_error(op: &'static str, key: &str, source: object_store::Error) -> RemoteError {
    RemoteError::Store {
        op,
        key: key.to_owned(),
        source: Box::new(source),
    }
}
