//! Helpers shared by the WAL's integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_wal::sim::SimStorage;
use strata_wal::{Lsn, Record, Result, Wal, WalOptions};

/// The directory every simulated WAL lives in.
pub const DIR: &str = "/wal";

/// Path of the segment whose first LSN is `first`.
pub fn seg(first: Lsn) -> PathBuf {
    Path::new(DIR).join(format!("{first:020}.wal"))
}

/// Opens the simulated WAL with `options`.
pub fn open(sim: &SimStorage, options: WalOptions) -> Result<Wal> {
    Wal::open_with_storage(Arc::new(sim.clone()), DIR, options)
}

/// Smallest legal segments, so tests rotate often.
pub fn small_segments() -> WalOptions {
    WalOptions {
        segment_size: 4096,
        ..WalOptions::default()
    }
}

/// Every record from the oldest on, or the first error.
pub fn read_all(wal: &Wal) -> Result<Vec<Record>> {
    wal.reader(wal.first_lsn())?.collect()
}

/// A payload that names its LSN, `len` bytes long.
pub fn payload(lsn: Lsn, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (lsn.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}
