//! Property: random truncation and bit flips anywhere in a log never panic and never yield
//! a damaged record. Whatever recovery returns is a prefix of what was written, and when
//! it refuses to open, it says which segment is damaged.

mod common;

use common::{open, read_all, seg, small_segments};
use proptest::prelude::*;
use strata_wal::sim::SimStorage;
use strata_wal::{Error, RecoveryMode, WalOptions};

fn written() -> (SimStorage, Vec<Vec<u8>>, Vec<u64>) {
    let sim = SimStorage::new();
    let wal = open(&sim, small_segments()).unwrap();
    let mut records = Vec::new();
    for i in 0..40u64 {
        let batch: Vec<Vec<u8>> = (0..1 + i % 3)
            .map(|j| common::payload(i * 10 + j, (i as usize * 97 + j as usize * 13) % 900))
            .collect();
        wal.append_batch(batch.clone()).unwrap();
        records.extend(batch);
    }
    drop(wal);
    let mut firsts: Vec<u64> = Vec::new();
    let mut lsn = 1;
    while sim.file(&seg(lsn)).is_some() {
        firsts.push(lsn);
        let wal_bytes = sim.file(&seg(lsn)).unwrap();
        let mut off = strata_wal::SEGMENT_HEADER_LEN;
        while off < wal_bytes.len() {
            let len = u32::from_le_bytes(wal_bytes[off + 4..off + 8].try_into().unwrap()) as usize;
            off += strata_wal::FRAME_HEADER_LEN + len;
            lsn += 1;
        }
    }
    (sim, records, firsts)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        seg: prop::sample::Index,
        at: prop::sample::Index,
        bit: u8,
    },
    Truncate {
        seg: prop::sample::Index,
        at: prop::sample::Index,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            0u8..8
        )
            .prop_map(|(seg, at, bit)| Mutation::Flip { seg, at, bit }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(seg, at)| Mutation::Truncate { seg, at }),
    ]
}

fn mode() -> impl Strategy<Value = RecoveryMode> {
    prop_oneof![
        Just(RecoveryMode::TolerateTornTail),
        Just(RecoveryMode::PointInTime),
        Just(RecoveryMode::Strict),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damage_never_yields_a_bad_record(mutations in prop::collection::vec(mutation(), 1..4), mode in mode()) {
        let (sim, records, firsts) = written();
        prop_assume!(firsts.len() >= 3);
        for m in &mutations {
            let (Mutation::Flip { seg: s, .. } | Mutation::Truncate { seg: s, .. }) = m;
            let path = seg(firsts[s.index(firsts.len())]);
            let mut data = sim.file(&path).unwrap();
            if data.is_empty() {
                continue;
            }
            match m {
                Mutation::Flip { at, bit, .. } => {
                    let i = at.index(data.len());
                    data[i] ^= 1 << bit;
                }
                Mutation::Truncate { at, .. } => data.truncate(at.index(data.len())),
            }
            sim.set_file(&path, data);
        }
        let opts = WalOptions { recovery: mode, ..small_segments() };
        match open(&sim, opts.clone()) {
            Ok(wal) => {
                let got = read_all(&wal).unwrap();
                // A prefix of what was written, each record intact.
                for (i, r) in got.iter().enumerate() {
                    prop_assert_eq!(r.lsn, i as u64 + 1);
                    prop_assert_eq!(&r.payload[..], &records[i][..]);
                }
                // The log accepts writes again and they read back after the prefix.
                let next = wal.append(&b"after"[..]).unwrap();
                prop_assert_eq!(next, got.len() as u64 + 1);
                drop(wal);
                let wal = open(&sim, opts).unwrap();
                prop_assert_eq!(read_all(&wal).unwrap().len(), got.len() + 1);
            }
            Err(Error::Corrupt { path, damage }) => {
                prop_assert!(mode != RecoveryMode::PointInTime || matches!(damage.kind, strata_wal::DamageKind::UnsupportedVersion(_)),
                    "point-in-time repairs everything but unknown versions: {:?}", damage);
                prop_assert!(path.starts_with(common::DIR));
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }
}
