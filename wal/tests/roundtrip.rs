//! Property: whatever batches are appended, reopening and reading returns exactly them, in
//! order, from any starting LSN, across segment rotations and truncation.

mod common;

use common::{open, read_all, small_segments};
use proptest::prelude::*;
use strata_wal::sim::SimStorage;
use strata_wal::{Durability, Wal, WalOptions};

fn batches() -> impl Strategy<Value = Vec<Vec<Vec<u8>>>> {
    let record = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 1000..6000),
    ];
    prop::collection::vec(prop::collection::vec(record, 1..6), 1..40)
}

fn durability() -> impl Strategy<Value = Durability> {
    prop_oneof![
        Just(Durability::Fsync),
        Just(Durability::None),
        Just(Durability::Interval(std::time::Duration::from_millis(1))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn appended_batches_read_back_exactly(batches in batches(), durability in durability(),
                                          from_pick in any::<prop::sample::Index>(),
                                          cut_pick in any::<prop::sample::Index>()) {
        let sim = SimStorage::new();
        let opts = WalOptions { durability, ..small_segments() };
        let wal = open(&sim, opts.clone()).unwrap();
        let mut expected = Vec::new();
        for batch in &batches {
            let range = wal.append_batch(batch.clone()).unwrap();
            prop_assert_eq!(range.start, expected.len() as u64 + 1);
            prop_assert_eq!(range.end - range.start, batch.len() as u64);
            expected.extend(batch.iter().cloned());
        }
        wal.close().unwrap();

        let wal = open(&sim, opts.clone()).unwrap();
        prop_assert_eq!(wal.recovery_report().repaired.clone(), None);
        let got: Vec<Vec<u8>> = read_all(&wal).unwrap().iter().map(|r| r.payload.to_vec()).collect();
        prop_assert_eq!(&got, &expected);

        // From any LSN: the matching suffix.
        let from = from_pick.index(expected.len()) as u64 + 1;
        let suffix: Vec<_> = wal.reader(from).unwrap().map(|r| r.unwrap()).collect();
        prop_assert_eq!(suffix.len(), expected.len() + 1 - from as usize);
        for r in &suffix {
            prop_assert_eq!(&r.payload[..], &expected[r.lsn as usize - 1][..]);
        }

        // Truncation drops whole segments only, never a record at or above the point.
        let cut = cut_pick.index(expected.len() + 1) as u64 + 1;
        wal.truncate_below(cut).unwrap();
        prop_assert!(wal.first_lsn() <= cut);
        let kept: Vec<_> = read_all(&wal).unwrap();
        prop_assert_eq!(kept.last().map(|r| r.lsn), Some(expected.len() as u64));
        prop_assert_eq!(kept[0].lsn, wal.first_lsn());
        drop(wal);
        let wal = open(&sim, opts).unwrap();
        prop_assert!(wal.first_lsn() <= cut);
        prop_assert_eq!(wal.next_lsn(), expected.len() as u64 + 1);
    }
}

#[test]
fn round_trip_on_the_real_file_system_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_size: 64 * 1024,
        ..WalOptions::default()
    };
    let wal = Wal::open(dir.path(), opts.clone()).unwrap();
    let payloads: Vec<Vec<u8>> = (0..300u64)
        .map(|i| common::payload(i, (i as usize * 37) % 3000))
        .collect();
    for chunk in payloads.chunks(3) {
        wal.append_batch(chunk.to_vec()).unwrap();
    }
    assert!(
        wal.segment_count() > 5,
        "rotated {} times",
        wal.segment_count()
    );
    wal.close().unwrap();
    let wal = Wal::open(dir.path(), opts).unwrap();
    let got: Vec<Vec<u8>> = read_all(&wal)
        .unwrap()
        .iter()
        .map(|r| r.payload.to_vec())
        .collect();
    assert_eq!(got, payloads);
    assert_eq!(wal.recovery_report().repaired, None);
}

#[test]
fn concurrent_appenders_get_distinct_contiguous_lsns() {
    let sim = SimStorage::new();
    let wal = open(&sim, small_segments()).unwrap();
    let per_thread = 200u64;
    let lsns: Vec<(u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u64)
            .map(|t| {
                let wal = &wal;
                s.spawn(move || {
                    (0..per_thread)
                        .map(|i| {
                            (
                                wal.append(common::payload(t * 1000 + i, 50)).unwrap(),
                                t * 1000 + i,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let stats = wal.stats();
    assert_eq!(stats.records, 8 * per_thread);
    assert!(stats.syncs <= stats.appends, "{stats:?}");
    let records = read_all(&wal).unwrap();
    assert_eq!(records.len() as u64, 8 * per_thread);
    for (lsn, id) in lsns {
        assert_eq!(
            &records[lsn as usize - 1].payload[..],
            &common::payload(id, 50)[..]
        );
    }
}
