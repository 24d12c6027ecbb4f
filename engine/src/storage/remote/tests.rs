//! The mirror against a hand-made data directory: what it publishes of a partition.

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};

use super::{Mirror, RemoteConfig};
use crate::storage::partition::{self, FileEntry, Flushed, MARKER, Manifest};

fn entry(flush: u64) -> FileEntry {
    FileEntry {
        flush,
        samples: format!("logs-{flush}.parquet"),
        series: String::new(),
        index: String::new(),
        exemplars: String::new(),
        histograms: String::new(),
        histogram_rows: 0,
        histogram_buckets: String::new(),
        histogram_bucket_rows: 0,
        rows: 1,
        min_ts: 0,
        max_ts: 1,
        bytes: 4,
        flushes: 1,
    }
}

async fn get(store: &dyn ObjectStore, key: &str) -> Option<Vec<u8>> {
    match store.get(&Key::from(key)).await {
        Ok(r) => Some(r.bytes().await.expect("bytes").to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("{e}"),
    }
}

/// A flush lists its sets before it writes the commit marker: a pass in between publishes
/// only the committed sets, and the flush's files stay local until the marker moves.
#[test]
fn only_committed_sets_are_published() {
    let root = tempfile::tempdir().expect("dir");
    let rel = "logs/tenant=acme/date=2025-11-21/hour=00";
    let dir = root.path().join(rel);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::create_dir_all(partition::metrics_dir(root.path())).expect("mkdir");
    let marker = |lsn| {
        let path = partition::metrics_dir(root.path()).join(MARKER);
        partition::write_json(
            &path,
            &Flushed {
                flushed_below_lsn: lsn,
            },
        )
        .expect("marker");
    };
    marker(10);
    for flush in [5, 20] {
        std::fs::write(dir.join(format!("logs-{flush}.parquet")), b"data").expect("write");
    }
    let manifest = Manifest {
        version: 1,
        files: vec![entry(5), entry(20)],
    };
    partition::write_json(&dir.join("manifest.json"), &manifest).expect("manifest");

    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mirror =
        Arc::new(Mirror::new(root.path(), RemoteConfig::new(store.clone(), "p")).expect("mirror"));
    mirror.pass().expect("pass");
    let published = |store: Arc<dyn ObjectStore>| {
        futures::executor::block_on(async move {
            let m = get(store.as_ref(), &format!("p/{rel}/manifest.json")).await;
            let m: Manifest = serde_json::from_slice(&m.expect("manifest")).expect("json");
            let uploaded = get(store.as_ref(), &format!("p/{rel}/logs-20.parquet")).await;
            (
                m.files.iter().map(|f| f.flush).collect::<Vec<_>>(),
                uploaded.is_some(),
            )
        })
    };
    assert_eq!(published(store.clone()), (vec![5], false));

    // The commit: the marker moves and the partition is touched.
    marker(20);
    mirror.touch(&dir);
    mirror.pass().expect("pass");
    assert_eq!(published(store), (vec![5, 20], true));
}

/// A restarted writer's first pass checks every partition against the bucket: a manifest
/// object equal to the local one is read back, not written again.
#[test]
fn a_restart_writes_no_manifest_the_bucket_has() {
    let root = tempfile::tempdir().expect("dir");
    let rel = "logs/tenant=acme/date=2025-11-21/hour=00";
    let dir = root.path().join(rel);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::create_dir_all(partition::metrics_dir(root.path())).expect("mkdir");
    let marker = partition::metrics_dir(root.path()).join(MARKER);
    partition::write_json(
        &marker,
        &Flushed {
            flushed_below_lsn: 10,
        },
    )
    .expect("marker");
    std::fs::write(dir.join("logs-5.parquet"), b"data").expect("write");
    let manifest = Manifest {
        version: 1,
        files: vec![entry(5)],
    };
    partition::write_json(&dir.join("manifest.json"), &manifest).expect("manifest");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let config = RemoteConfig::new(store.clone(), "p");
    let first = Arc::new(Mirror::new(root.path(), config.clone()).expect("mirror"));
    first.pass().expect("pass");
    assert_eq!(first.stats().manifests_put, 1);
    drop(first);

    let again = Arc::new(Mirror::new(root.path(), config.clone()).expect("mirror"));
    again.pass().expect("pass");
    let stats = again.stats();
    // Only the catalog, which the first pass after an open writes again.
    assert_eq!(
        (stats.manifests_put, stats.uploaded_objects),
        (0, 1),
        "{stats:?}"
    );

    // A manifest that changed while the writer was down is written.
    let manifest = Manifest {
        version: 1,
        files: vec![FileEntry {
            rows: 2,
            ..entry(5)
        }],
    };
    partition::write_json(&dir.join("manifest.json"), &manifest).expect("manifest");
    let third = Arc::new(Mirror::new(root.path(), config).expect("mirror"));
    third.pass().expect("pass");
    assert_eq!(third.stats().manifests_put, 1);
}
