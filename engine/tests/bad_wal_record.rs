//! A WAL record the engine cannot decode stops `open` with an error naming its LSN, rather
//! than being skipped: skipping could silently drop acknowledged samples.

mod common;

use strata_engine::{Engine, Error, Sample, SeriesSamples, TenantId};
use strata_wal::{Wal, WalOptions};

#[test]
fn an_undecodable_record_is_an_error_with_its_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let s = SeriesSamples {
        labels: vec![("__name__".into(), "m".into())],
        samples: vec![Sample { ts: 1, value: 1.0 }],
    };
    engine.write(&TenantId::new("t").unwrap(), &[s]).unwrap();
    engine.close().unwrap();

    // A record from a future version (or damaged past its CRC) after the good one.
    let wal = Wal::open(dir.path().join("wal"), WalOptions::default()).unwrap();
    let bad = wal.append(&[9u8, 1, 0][..]).unwrap();
    assert!(bad > 1, "appended after the engine's records");
    wal.close().unwrap();

    let err = Engine::open(dir.path(), common::config()).unwrap_err();
    assert!(
        matches!(&err, Error::BadRecord { lsn, .. } if *lsn == bad),
        "{err}"
    );
    assert!(
        err.to_string().contains("unknown record version 9"),
        "{err}"
    );
}
