//! The corruption corpus, after Prometheus's WAL repair tests: each kind of damage at the
//! first, a middle and the last record, in the last segment and in an earlier one, with the
//! exact outcome each must have under every recovery mode.
//!
//! Layout used throughout: 10 single-record appends of 700-byte payloads into 4 KiB
//! segments, which puts LSNs 1-5 in segment 1 and LSNs 6-10 in segment 6, each frame 720
//! bytes, the k-th frame of a segment at offset 32 + 720 k.

mod common;

use common::{DIR, open, payload, read_all, seg, small_segments};
use strata_wal::sim::SimStorage;
use strata_wal::{
    Damage, DamageKind, Error, FRAME_HEADER_LEN, RecoveryMode, SEGMENT_HEADER_LEN, WalOptions,
};

const PAYLOAD: usize = 700;
const FRAME: usize = FRAME_HEADER_LEN + PAYLOAD;
const POSITIONS: [(&str, usize); 3] = [("first", 0), ("middle", 2), ("last", 4)];

/// The two segments: (name, first LSN).
const SEGMENTS: [(&str, u64); 2] = [("earlier", 1), ("last", 6)];

fn build() -> SimStorage {
    let sim = SimStorage::new();
    let wal = open(&sim, small_segments()).expect("open");
    for lsn in 1..=10 {
        assert_eq!(wal.append(payload(lsn, PAYLOAD)).expect("append"), lsn);
    }
    assert_eq!(wal.segment_count(), 2);
    wal.close().expect("close");
    sim
}

fn offset(k: usize) -> usize {
    SEGMENT_HEADER_LEN + k * FRAME
}

#[derive(Debug, Clone, Copy)]
enum Corruption {
    /// The file ends half-way through the record's payload.
    TornRecord,
    /// The record's type byte is not a known type.
    BadHeader,
    /// The record declares an impossible length.
    BadLength,
    /// The stored checksum is wrong.
    BadChecksum,
    /// A payload byte is wrong.
    BadContent,
    /// The record and everything after it are zeros (length kept).
    ZeroTail,
    /// The file ends cleanly just before the record (a frame boundary).
    PartialSegment,
}

const ALL: [Corruption; 7] = [
    Corruption::TornRecord,
    Corruption::BadHeader,
    Corruption::BadLength,
    Corruption::BadChecksum,
    Corruption::BadContent,
    Corruption::ZeroTail,
    Corruption::PartialSegment,
];

impl Corruption {
    fn apply(self, data: &mut Vec<u8>, o: usize) {
        match self {
            Self::TornRecord => data.truncate(o + FRAME_HEADER_LEN + PAYLOAD / 2),
            Self::BadHeader => data[o + 8] = 0xEE,
            Self::BadLength => data[o + 4..o + 8].copy_from_slice(&u32::MAX.to_le_bytes()),
            Self::BadChecksum => data[o] ^= 0x01,
            Self::BadContent => data[o + FRAME_HEADER_LEN + 100] ^= 0x40,
            Self::ZeroTail => data[o..].fill(0),
            Self::PartialSegment => data.truncate(o),
        }
    }

    /// The damage recovery must report, or `None` when the cut file is a valid shorter log.
    fn damage(self, file_len: usize, o: usize) -> Option<DamageKind> {
        Some(match self {
            Self::TornRecord => DamageKind::TruncatedPayload {
                declared: PAYLOAD as u32,
                available: file_len - o - FRAME_HEADER_LEN,
            },
            Self::BadHeader => DamageKind::BadFrameType(0xEE),
            Self::BadLength => DamageKind::BadLength(u32::MAX),
            Self::BadChecksum | Self::BadContent => DamageKind::BadChecksum,
            Self::ZeroTail => DamageKind::ZeroTail,
            Self::PartialSegment => return None,
        })
    }
}

/// Builds the log, damages record `k` of segment `first`, and returns the storage with the
/// damaged file's new length.
fn damaged(c: Corruption, first: u64, k: usize) -> (SimStorage, usize) {
    let sim = build();
    let mut data = sim.file(&seg(first)).expect("segment exists");
    c.apply(&mut data, offset(k));
    let len = data.len();
    sim.set_file(&seg(first), data);
    (sim, len)
}

fn files(sim: &SimStorage) -> Vec<Option<Vec<u8>>> {
    [seg(1), seg(6)].iter().map(|p| sim.file(p)).collect()
}

#[test]
fn default_mode_truncates_damage_in_the_last_segment() {
    for c in ALL {
        for (pos, k) in POSITIONS {
            let case = format!("{c:?} at the {pos} record of the last segment");
            let (sim, len) = damaged(c, 6, k);
            let wal = open(&sim, small_segments()).unwrap_or_else(|e| panic!("{case}: {e}"));
            let lsns: Vec<u64> = read_all(&wal).expect(&case).iter().map(|r| r.lsn).collect();
            assert_eq!(lsns, (1..=5 + k as u64).collect::<Vec<_>>(), "{case}");
            let report = wal.recovery_report();
            match c.damage(len, offset(k)) {
                Some(kind) => {
                    let repair = report.repaired.as_ref().expect(&case);
                    assert_eq!(repair.path, seg(6), "{case}");
                    let want = Damage {
                        offset: offset(k) as u64,
                        kind,
                    };
                    assert_eq!(repair.damage, want, "{case}");
                    assert_eq!(repair.truncated_to, offset(k) as u64, "{case}");
                    assert_eq!(repair.dropped_bytes, (len - offset(k)) as u64, "{case}");
                }
                None => assert_eq!(report.repaired, None, "{case}"),
            }
            assert_eq!(wal.next_lsn(), 6 + k as u64, "{case}");
            // The log continues right after the last good record.
            assert_eq!(wal.append(&b"after"[..]).expect(&case), 6 + k as u64);
            drop(wal);
            let file = sim.file(&seg(6)).expect(&case);
            assert_eq!(file.len(), offset(k) + FRAME_HEADER_LEN + 5, "{case}");
        }
    }
}

#[test]
fn default_mode_refuses_damage_in_an_earlier_segment_and_changes_nothing() {
    for c in ALL {
        for (pos, k) in POSITIONS {
            let case = format!("{c:?} at the {pos} record of the earlier segment");
            let (sim, len) = damaged(c, 1, k);
            let before = files(&sim);
            let err = open(&sim, small_segments()).expect_err(&case);
            let Error::Corrupt { path, damage } = err else {
                panic!("{case}: want Corrupt, got {err}");
            };
            match c.damage(len, offset(k)) {
                Some(kind) => {
                    assert_eq!(path, std::path::Path::new(DIR).join(seg(1)), "{case}");
                    assert_eq!(
                        damage,
                        Damage {
                            offset: offset(k) as u64,
                            kind
                        },
                        "{case}"
                    );
                }
                None => {
                    // Records 1+k..=5 are missing: the next segment no longer follows on.
                    assert_eq!(path, seg(6), "{case}");
                    let kind = DamageKind::Gap {
                        expected: 1 + k as u64,
                        found: 6,
                    };
                    assert_eq!(damage, Damage { offset: 0, kind }, "{case}");
                }
            }
            assert_eq!(
                files(&sim),
                before,
                "{case}: recovery must not touch the files"
            );
        }
    }
}

#[test]
fn point_in_time_keeps_the_prefix_before_damage_in_an_earlier_segment() {
    let opts = WalOptions {
        recovery: RecoveryMode::PointInTime,
        ..small_segments()
    };
    for c in ALL {
        for (pos, k) in POSITIONS {
            let case = format!("{c:?} at the {pos} record of the earlier segment");
            let (sim, _) = damaged(c, 1, k);
            let wal = open(&sim, opts.clone()).unwrap_or_else(|e| panic!("{case}: {e}"));
            let got = read_all(&wal).expect(&case);
            let lsns: Vec<u64> = got.iter().map(|r| r.lsn).collect();
            assert_eq!(lsns, (1..=k as u64).collect::<Vec<_>>(), "{case}");
            assert_eq!(wal.next_lsn(), 1 + k as u64, "{case}");
            let quarantined = &wal.recovery_report().quarantined;
            assert_eq!(quarantined.len(), 1, "{case}");
            assert!(quarantined[0].ends_with("00000000000000000006.wal.corrupt"));
            drop(wal);
            assert_eq!(sim.file(&seg(6)), None, "{case}: moved aside");
            assert_eq!(
                sim.file(&seg(1)).map(|f| f.len()),
                Some(offset(k)),
                "{case}"
            );
        }
    }
}

#[test]
fn strict_mode_refuses_every_damage_and_changes_nothing() {
    let opts = WalOptions {
        recovery: RecoveryMode::Strict,
        ..small_segments()
    };
    for c in ALL {
        for (pos, k) in POSITIONS {
            for (segment, first) in SEGMENTS {
                let case = format!("{c:?} at the {pos} record of the {segment} segment");
                let (sim, _) = damaged(c, first, k);
                let before = files(&sim);
                let clean_cut = matches!(c, Corruption::PartialSegment) && first == 6;
                match open(&sim, opts.clone()) {
                    // A last segment cut at a frame boundary is a valid, shorter log.
                    Ok(wal) if clean_cut => assert_eq!(wal.next_lsn(), 6 + k as u64),
                    Ok(_) => panic!("{case}: strict mode opened a damaged log"),
                    Err(Error::Corrupt { .. }) => assert!(!clean_cut, "{case}"),
                    Err(e) => panic!("{case}: want Corrupt, got {e}"),
                }
                assert_eq!(files(&sim), before, "{case}");
            }
        }
    }
}

fn rewrite(sim: &SimStorage, first: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let mut data = sim.file(&seg(first)).expect("segment");
    f(&mut data);
    sim.set_file(&seg(first), data);
}

#[test]
fn a_last_segment_with_a_torn_header_is_removed_and_the_lsns_continue() {
    for (name, damage) in [
        ("bad magic", DamageKind::BadMagic),
        ("bad checksum", DamageKind::BadSegmentHeaderChecksum),
        ("too short", DamageKind::TruncatedSegmentHeader),
        ("all zero", DamageKind::ZeroTail),
    ] {
        let sim = build();
        rewrite(&sim, 6, |d| match damage {
            DamageKind::BadMagic => d[0] = b'X',
            DamageKind::BadSegmentHeaderChecksum => d[20] ^= 1,
            DamageKind::TruncatedSegmentHeader => d.truncate(10),
            _ => d.fill(0),
        });
        let wal = open(&sim, small_segments()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(read_all(&wal).expect(name).len(), 5, "{name}");
        let repair = wal.recovery_report().repaired.clone().expect(name);
        assert_eq!(repair.damage.kind, damage, "{name}");
        assert_eq!(wal.append(&b"next"[..]).expect(name), 6, "{name}");
        // Segment 1 has room for the small record, so the log simply goes on there.
        assert_eq!(wal.segment_count(), 1, "{name}");
        drop(wal);
        assert_eq!(sim.file(&seg(6)), None, "{name}: the torn segment is gone");
    }
}

#[test]
fn a_torn_header_in_the_only_segment_restarts_it_at_the_same_lsn() {
    let sim = SimStorage::new();
    let wal = open(&sim, small_segments()).expect("open");
    wal.append(&b"x"[..]).expect("append");
    drop(wal);
    rewrite(&sim, 1, |d| d.truncate(7));
    let wal = open(&sim, small_segments()).expect("open");
    assert_eq!(read_all(&wal).expect("read").len(), 0);
    assert_eq!(wal.append(&b"y"[..]).expect("append"), 1);
}

#[test]
fn damaged_headers_of_earlier_segments_are_errors() {
    let sim = build();
    rewrite(&sim, 1, |d| d[3] ^= 0x10);
    let err = open(&sim, small_segments()).expect_err("damaged first segment");
    assert!(
        matches!(&err, Error::Corrupt { damage, .. } if damage.kind == DamageKind::BadMagic),
        "{err}"
    );
}

#[test]
fn an_unknown_format_version_is_never_repaired() {
    for mode in [
        RecoveryMode::TolerateTornTail,
        RecoveryMode::PointInTime,
        RecoveryMode::Strict,
    ] {
        let sim = build();
        rewrite(&sim, 6, |d| d[8] = 2);
        let before = files(&sim);
        let opts = WalOptions {
            recovery: mode,
            ..small_segments()
        };
        let err = open(&sim, opts).expect_err("future version");
        assert!(
            matches!(&err, Error::Corrupt { damage, .. }
                if damage.kind == DamageKind::UnsupportedVersion(2)),
            "{mode:?}: {err}"
        );
        assert!(err.to_string().contains("version 2"), "{err}");
        assert_eq!(files(&sim), before, "{mode:?}");
    }
}

#[test]
fn a_batch_cut_short_is_dropped_whole() {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).expect("open");
    wal.append(&b"alone"[..]).expect("append");
    let batch = wal
        .append_batch([&b"b1"[..], &b"b2"[..], &b"b3"[..]])
        .expect("batch");
    assert_eq!(batch, 2..5);
    drop(wal);
    // Cut inside the batch's last frame: the first two frames are intact but must not show.
    rewrite(&sim, 1, |d| {
        let n = d.len();
        d.truncate(n - 1);
    });
    let wal = open(&sim, WalOptions::default()).expect("open");
    let got = read_all(&wal).expect("read");
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"alone");
    let repair = wal.recovery_report().repaired.clone().expect("repaired");
    assert_eq!(
        repair.truncated_to,
        (SEGMENT_HEADER_LEN + FRAME_HEADER_LEN + 5) as u64
    );
    assert_eq!(wal.append(&b"again"[..]).expect("append"), 2);
}

#[test]
fn a_batch_with_frames_out_of_sequence_is_damage() {
    let sim = SimStorage::new();
    let wal = open(&sim, WalOptions::default()).expect("open");
    wal.append_batch([&b"a"[..], &b"b"[..]]).expect("batch");
    wal.append(&b"c"[..]).expect("append");
    drop(wal);
    // Drop the batch's last frame by splicing: the single record now follows a `First`.
    rewrite(&sim, 1, |d| {
        let second = SEGMENT_HEADER_LEN + FRAME_HEADER_LEN + 1;
        d.drain(second..second + FRAME_HEADER_LEN + 1);
    });
    let wal = open(&sim, WalOptions::default()).expect("open");
    assert_eq!(read_all(&wal).expect("read").len(), 0);
    let repair = wal.recovery_report().repaired.clone().expect("repaired");
    // The third frame carries LSN 3 where 2 was expected: caught before the sequence check.
    assert_eq!(
        repair.damage.kind,
        DamageKind::BadLsn {
            expected: 2,
            found: 3
        }
    );
}
