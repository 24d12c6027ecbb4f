//! When a group is evaluated: every `interval`, at an offset within the interval that a
//! hash of the group's file and name fixes, as Prometheus does, so groups spread over the
//! interval and a group keeps its timestamps across restarts (Prometheus itself, given the
//! same file path and group name, evaluates at the same instants).

use std::hash::Hasher as _;
use std::time::Duration;

use twox_hash::XxHash64;

use super::group::GroupKey;

/// The group's offset within its interval (ns): Prometheus's `labels.Hash` of
/// `{file="...", name="..."}` (xxHash64 of `name 0xff value 0xff` per label, in name
/// order) modulo the interval.
pub fn offset_ns(key: &GroupKey, interval: Duration) -> i64 {
    let mut h = XxHash64::with_seed(0);
    for (n, v) in [
        ("file", key.file.to_string_lossy().as_ref()),
        ("name", key.name.as_str()),
    ] {
        h.write(n.as_bytes());
        h.write(&[0xff]);
        h.write(v.as_bytes());
        h.write(&[0xff]);
    }
    let interval = interval.as_nanos().max(1) as u64;
    (h.finish() % interval) as i64
}

/// The last evaluation instant at or before `now_ns` (Prometheus's `EvalTimestamp`).
pub fn slot_at_or_before(now_ns: i64, offset_ns: i64, interval: Duration) -> i64 {
    let interval = interval.as_nanos().max(1) as i64;
    let adjusted = now_ns - offset_ns;
    adjusted - adjusted.rem_euclid(interval) + offset_ns
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn slots_are_interval_apart_at_the_groups_offset() {
        let key = GroupKey {
            file: PathBuf::from("/etc/rules/a.yml"),
            name: "api".into(),
        };
        let interval = Duration::from_secs(15);
        let off = offset_ns(&key, interval);
        assert!((0..15_000_000_000).contains(&off));
        let now = 1_700_000_000_123_456_789;
        let s = slot_at_or_before(now, off, interval);
        assert!(s <= now && now - s < 15_000_000_000);
        assert_eq!((s - off).rem_euclid(15_000_000_000), 0);
        assert_eq!(slot_at_or_before(s, off, interval), s);
        // Another name moves the offset (the hash covers it).
        let other = GroupKey {
            name: "db".into(),
            ..key.clone()
        };
        assert_ne!(offset_ns(&other, interval), off);
    }

    #[test]
    fn the_hash_is_prometheus_labels_hash() {
        // xxHash64 of "file\xff/r.yml\xffname\xffg\xff", the bytes Prometheus hashes for
        // the label set {file="/r.yml", name="g"}.
        let key = GroupKey {
            file: PathBuf::from("/r.yml"),
            name: "g".into(),
        };
        let mut bytes = Vec::new();
        for part in ["file", "/r.yml", "name", "g"] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0xff);
        }
        let whole = XxHash64::oneshot(0, &bytes);
        let interval = Duration::from_secs(60);
        assert_eq!(offset_ns(&key, interval), (whole % 60_000_000_000) as i64);
    }
}
