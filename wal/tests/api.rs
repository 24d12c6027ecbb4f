//! The contract of the handle itself: locking, option checks, argument errors, tickets.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::{open, read_all};
use strata_wal::sim::SimStorage;
use strata_wal::{Durability, Error, MAX_RECORD_LEN, Wal, WalOptions};

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let err = Wal::open(dir.path(), WalOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    drop(wal);
    Wal::open(dir.path(), WalOptions::default()).expect("lock released on drop");
}

#[test]
fn nonsense_options_are_rejected_by_name() {
    for (opts, field) in [
        (
            WalOptions {
                segment_size: 100,
                ..Default::default()
            },
            "segment_size",
        ),
        (
            WalOptions {
                queue_capacity: 0,
                ..Default::default()
            },
            "queue_capacity",
        ),
        (
            WalOptions {
                max_group_bytes: 0,
                ..Default::default()
            },
            "max_group_bytes",
        ),
        (
            WalOptions {
                durability: Durability::Interval(std::time::Duration::ZERO),
                ..Default::default()
            },
            "durability",
        ),
    ] {
        let err = open(&SimStorage::new(), opts).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOption { name, .. } if *name == field),
            "{err}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn bad_appends_are_refused_without_touching_the_log() {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).unwrap();
    let empty: [&[u8]; 0] = [];
    assert!(matches!(wal.append_batch(empty), Err(Error::EmptyBatch)));
    let huge = bytes::Bytes::from(vec![0u8; MAX_RECORD_LEN + 1]);
    let err = wal
        .append_batch([bytes::Bytes::from_static(b"ok"), huge])
        .unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { len, .. } if len == MAX_RECORD_LEN + 1));
    assert_eq!(wal.next_lsn(), 1);
    assert_eq!(
        wal.append(&b""[..]).unwrap(),
        1,
        "an empty record is a record"
    );
}

#[test]
fn reading_below_the_truncation_point_is_an_error_and_past_the_end_is_empty() {
    let sim = SimStorage::new();
    let wal = open(&sim, common::small_segments()).unwrap();
    for i in 0..20 {
        wal.append(common::payload(i, 1000)).unwrap();
    }
    assert!(wal.truncate_below(10).unwrap() > 0);
    let oldest = wal.first_lsn();
    assert!(oldest > 1 && oldest <= 10);
    let err = wal.reader(1).unwrap_err();
    assert!(
        matches!(err, Error::Truncated { requested: 1, oldest: o } if o == oldest),
        "{err}"
    );
    assert_eq!(wal.reader(21).unwrap().count(), 0);
    assert_eq!(wal.reader(10).unwrap().next().unwrap().unwrap().lsn, 10);
}

#[test]
fn a_reader_keeps_reading_segments_truncated_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        dir.path(),
        WalOptions {
            segment_size: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..20 {
        wal.append(common::payload(i, 1000)).unwrap();
    }
    let reader = wal.reader(1).unwrap();
    wal.truncate_below(wal.next_lsn()).unwrap();
    assert_eq!(wal.segment_count(), 1);
    let lsns: Vec<u64> = reader.map(|r| r.unwrap().lsn).collect();
    assert_eq!(lsns, (1..=20).collect::<Vec<_>>());
}

#[test]
fn rotate_lets_truncation_drop_every_record_and_the_log_reopens_empty() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    for i in 0..5 {
        wal.append(common::payload(i, 1000)).unwrap();
    }
    let end = wal.next_lsn();
    // Without a rotation the active segment cannot go, whatever the LSN.
    assert_eq!(wal.truncate_below(end).unwrap(), 0);
    assert_eq!(wal.rotate().unwrap(), end);
    assert_eq!(wal.segment_count(), 2);
    assert_eq!(wal.truncate_below(end).unwrap(), 1);
    assert_eq!(wal.segment_count(), 1);
    // A second rotation with nothing written keeps the empty segment.
    assert_eq!(wal.rotate().unwrap(), end);
    assert_eq!(wal.segment_count(), 1);
    wal.close().unwrap();

    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!(
        wal.next_lsn(),
        end,
        "LSNs continue after the dropped records"
    );
    assert_eq!(wal.reader(end).unwrap().count(), 0);
    wal.append(&b"after"[..]).unwrap();
    let recs: Vec<_> = wal.reader(end).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].lsn, end);
}

#[test]
fn sync_makes_non_fsync_modes_durable_and_reports_the_point() {
    let sim = SimStorage::new();
    let wal = open(
        &sim,
        WalOptions {
            durability: Durability::None,
            ..Default::default()
        },
    )
    .unwrap();
    wal.append(&b"a"[..]).unwrap();
    wal.append(&b"b"[..]).unwrap();
    assert_eq!(wal.stats().syncs, 0, "None mode does not fsync on append");
    assert_eq!(wal.sync().unwrap(), 3);
    assert_eq!(wal.durable_lsn(), 3);
    assert_eq!(wal.stats().syncs, 1);
    // After a power cut, the synced records are all there.
    let after = sim.power_cut(&mut strata_wal::sim::CrashRng::new(1));
    drop(wal);
    assert_eq!(
        read_all(&open(&after, WalOptions::default()).unwrap())
            .unwrap()
            .len(),
        2
    );
}

struct Flag(std::sync::atomic::AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_ticket_can_be_awaited() {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).unwrap();
    let flag = Arc::new(Flag(false.into()));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut ticket = pin!(wal.submit([&b"async"[..]]).unwrap());
    let range = match ticket.as_mut().poll(&mut cx) {
        Poll::Ready(r) => r.unwrap(), // the writer was faster than this thread
        Poll::Pending => {
            // Pending: completion must wake us; no more polling until it does.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !flag.0.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(std::time::Instant::now() < deadline, "never woken");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            match ticket.as_mut().poll(&mut cx) {
                Poll::Ready(r) => r.unwrap(),
                Poll::Pending => panic!("woken but not ready"),
            }
        }
    };
    assert_eq!(range, 1..2);
    assert_eq!(read_all(&wal).unwrap()[0].payload, &b"async"[..]);
}

#[test]
fn appends_queued_at_close_are_written() {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).unwrap();
    let tickets: Vec<_> = (0..100u64)
        .map(|i| wal.submit([common::payload(i, 10)]).unwrap())
        .collect();
    wal.close().unwrap();
    for (i, t) in tickets.into_iter().enumerate() {
        assert_eq!(t.wait().unwrap().start, i as u64 + 1);
    }
    assert_eq!(
        read_all(&open(&sim, WalOptions::default()).unwrap())
            .unwrap()
            .len(),
        100
    );
}

#[test]
fn interval_mode_syncs_while_appends_never_pause() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let sim = SimStorage::new();
    let options = WalOptions {
        durability: Durability::Interval(Duration::from_millis(5)),
        ..WalOptions::default()
    };
    let wal = open(&sim, options).unwrap();
    let stop = AtomicBool::new(false);
    // Four appenders keep the writer's queue from ever being empty.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    wal.append(&b"x"[..]).unwrap();
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    // The mode's promise: what is written is fsynced within about one interval, busy or
    // not. 300 ms of 5 ms intervals is ~60 fsyncs; a writer that syncs only when its queue
    // runs dry makes none.
    let syncs = wal.stats().syncs;
    assert!(syncs >= 10, "{syncs} fsyncs in 300 ms of 5 ms intervals");
}

#[test]
fn a_wal_created_at_an_lsn_carries_on_that_numbering() {
    let dir = tempfile::tempdir().unwrap();
    Wal::create_at(dir.path(), 734).unwrap();
    let err = Wal::create_at(dir.path(), 900).unwrap_err();
    assert!(
        err.to_string().contains("already holds WAL segments"),
        "{err}"
    );
    assert!(Wal::create_at(dir.path().join("zero"), 0).is_err());
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    assert_eq!((wal.first_lsn(), wal.next_lsn()), (734, 734));
    assert_eq!(wal.append(&b"one"[..]).unwrap(), 734);
    drop(wal);
    let wal = Wal::open(dir.path(), WalOptions::default()).unwrap();
    let records = read_all(&wal).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].lsn, &records[0].payload[..]),
        (734, &b"one"[..])
    );
}
