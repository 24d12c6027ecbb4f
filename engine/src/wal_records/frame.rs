//! The framing shared by every engine WAL record: kinds, versions, and a bounds-checked cursor to read them.

/// A bounds-checked cursor; every read says what it was reading when it runs out.
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| format!("truncated in {what} at byte {}", self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, String> {
        self.array(what).map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    pub(crate) fn str(&mut self, len: usize, what: &str) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(len, what)?).map_err(|_| format!("{what} is not UTF-8"))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// Version of span and log records written: 2 since a record's resource and scope are
/// written once per run of records sharing them (version 1, each record carrying its
/// own, is still read).
pub(crate) const VERSION: u8 = 2;
/// Version 1 of span and log records: every record carries its resource and scope.
pub(crate) const VERSION_1: u8 = 1;
/// Version of samples records: 2 since series ids carry the metric name's hash
/// ([`crate::model::series::series_id`]); version 1 records hold ids of the old scheme and are
/// refused.
pub(crate) const SAMPLES_VERSION: u8 = 2;
pub(crate) const KIND_SAMPLES: u8 = 1;
/// Spans and log records (`wal_records/spans_logs.rs`).
pub(crate) const KIND_SPANS: u8 = 2;
pub(crate) const KIND_LOGS: u8 = 3;
/// Samples with native histograms: a kind 1 record (same version byte) followed by the
/// histograms; written only by writes that stored histograms (`wal_records/mod.rs`).
pub(crate) const KIND_SAMPLES_H: u8 = 5;
/// Exemplars (`wal_records/exemplars.rs`).
pub(crate) const KIND_EXEMPLARS: u8 = 4;
/// Version of exemplars records.
pub(crate) const EXEMPLARS_VERSION: u8 = 1;
/// Metric metadata (`wal_records/metadata.rs`).
pub(crate) const KIND_METADATA: u8 = 6;
/// Version of metadata records.
pub(crate) const METADATA_VERSION: u8 = 1;

/// The tenant id bytes every engine record carries after its version and kind bytes
/// (`docs/formats/engine-wal.md`); `None` for a record too short to hold one.
pub(crate) fn tenant_of(payload: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*payload.get(2)?);
    payload.get(3..3 + len)
}
