//! A failed write or fsync poisons the writer: the failing group and every later append get
//! a clear error, nothing is retried, and reopening recovers everything acknowledged before.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::{open, read_all};
use strata_wal::sim::{FaultOp, SimStorage};
use strata_wal::{Durability, Error, WalOptions};

fn poisoned_by(op: FaultOp, kind: ErrorKind) {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).unwrap();
    assert_eq!(wal.append(&b"before"[..]).unwrap(), 1);
    sim.inject_fault(op, 0, kind);
    let err = wal.append(&b"fails"[..]).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{op:?}: {err}");
    assert!(err.to_string().contains("poisoned"), "{err}");
    let source = std::error::Error::source(&err).expect("the cause is attached");
    assert!(
        source.to_string().contains(".wal"),
        "cause names the file: {source}"
    );
    // No retry, no silent recovery: every later call fails too, even once the fault is gone.
    for _ in 0..3 {
        assert!(matches!(
            wal.append(&b"later"[..]),
            Err(Error::Poisoned { .. })
        ));
    }
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.close(), Err(Error::Poisoned { .. })));

    let wal = open(&sim, WalOptions::default()).unwrap();
    let got = read_all(&wal).unwrap();
    assert_eq!(got[0].payload, &b"before"[..]);
    // The failed append was never acknowledged; it may or may not have reached the file.
    assert!(got.len() <= 2, "{got:?}");
    let next = wal.append(&b"after reopen"[..]).unwrap();
    assert_eq!(next, got.len() as u64 + 1);
}

#[test]
fn eio_on_fsync_poisons() {
    poisoned_by(FaultOp::Sync, ErrorKind::Other);
}

#[test]
fn enospc_on_write_poisons_and_a_torn_write_is_repaired_on_reopen() {
    poisoned_by(FaultOp::Write, ErrorKind::StorageFull);
}

#[test]
fn a_failed_background_fsync_in_interval_mode_poisons() {
    let sim = SimStorage::new();
    let opts = WalOptions {
        durability: Durability::Interval(Duration::from_millis(5)),
        ..WalOptions::default()
    };
    let wal = open(&sim, opts).unwrap();
    sim.inject_fault(FaultOp::Sync, 0, ErrorKind::Other);
    // Acknowledged before the fsync: that is what Interval promises.
    wal.append(&b"acked"[..]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match wal.append(&b"x"[..]) {
            Err(Error::Poisoned { .. }) => break,
            Ok(_) => assert!(std::time::Instant::now() < deadline, "never poisoned"),
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_failure_while_rotating_poisons() {
    let sim = SimStorage::new();
    let opts = WalOptions {
        segment_size: 4096,
        ..WalOptions::default()
    };
    let wal = open(&sim, opts.clone()).unwrap();
    wal.append(vec![1u8; 3000]).unwrap();
    // The next append rotates: fsync old segment (ok), then writing the new header fails.
    sim.inject_fault(FaultOp::Write, 0, ErrorKind::StorageFull);
    assert!(matches!(
        wal.append(vec![2u8; 3000]),
        Err(Error::Poisoned { .. })
    ));
    drop(wal);
    let wal = open(&sim, opts).unwrap();
    assert_eq!(read_all(&wal).unwrap().len(), 1);
    assert_eq!(wal.append(vec![3u8; 3000]).unwrap(), 2);
}
