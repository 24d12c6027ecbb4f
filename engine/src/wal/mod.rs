//! The engine's WAL record: one per write, holding the series it introduced and the samples
//! it stored (see `docs/formats/engine-wal.md`). Only accepted samples are logged, so replay
//! applies records without re-checking any limit.

pub(crate) mod exemplars;
pub(crate) mod frame;
pub(crate) mod pending;
pub(crate) mod spans_logs;

use std::sync::Arc;

use crate::model::series::SeriesId;
use crate::model::series_key::{self, SeriesKey};
use crate::wal::frame::{
    Cursor, KIND_EXEMPLARS, KIND_LOGS, KIND_SAMPLES, KIND_SPANS, SAMPLES_VERSION,
};
use crate::{Labels, Sample, TenantId};

/// A decoded samples record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SamplesRecord {
    pub(crate) tenant: TenantId,
    /// Series first seen in this write, with the ids they were given.
    pub(crate) new_series: Vec<(SeriesId, SeriesKey)>,
    pub(crate) samples: Vec<(SeriesId, Sample)>,
    /// Native histograms: series, timestamp, encoding ([`crate::Histogram::encode`]).
    pub(crate) histograms: Vec<(SeriesId, i64, Arc<[u8]>)>,
}

/// Size of one encoded sample: series id, timestamp, value bits.
const SAMPLE_LEN: usize = 24;

pub(crate) fn encode(rec: &SamplesRecord) -> Vec<u8> {
    let defs: usize = rec
        .new_series
        .iter()
        .map(|(_, k)| 10 + k.bytes().len())
        .sum();
    let mut out =
        Vec::with_capacity(11 + rec.tenant.as_str().len() + defs + rec.samples.len() * SAMPLE_LEN);
    out.extend_from_slice(&[SAMPLES_VERSION, KIND_SAMPLES]);
    // Lossless casts: tenant ids are at most 64 bytes, labels per series and label sizes are
    // limited far below u16/u32, and one write holds far fewer than 2^32 items.
    out.push(rec.tenant.as_str().len() as u8);
    out.extend_from_slice(rec.tenant.as_str().as_bytes());
    out.extend_from_slice(&(rec.new_series.len() as u32).to_le_bytes());
    for (id, key) in &rec.new_series {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(key.len() as u16).to_le_bytes());
        // The canonical bytes are the record's label encoding.
        out.extend_from_slice(key.bytes());
    }
    out.extend_from_slice(&(rec.samples.len() as u32).to_le_bytes());
    for (id, s) in &rec.samples {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&s.ts.to_le_bytes());
        out.extend_from_slice(&s.value.to_bits().to_le_bytes());
    }
    out
}

/// Any engine WAL record, decoded.
#[derive(Debug)]
pub(crate) enum Decoded {
    Samples(SamplesRecord),
    Spans(TenantId, Vec<crate::SpanRecord>),
    Logs(TenantId, Vec<crate::LogRecord>),
    Exemplars(TenantId, Vec<crate::SeriesExemplars>),
}

/// Decodes a record of any kind.
pub(crate) fn decode_any(buf: &[u8]) -> Result<Decoded, String> {
    match buf.get(1) {
        Some(&KIND_SPANS) => crate::wal::spans_logs::decode(buf).map(|(t, r)| Decoded::Spans(t, r)),
        Some(&KIND_LOGS) => crate::wal::spans_logs::decode(buf).map(|(t, r)| Decoded::Logs(t, r)),
        Some(&KIND_EXEMPLARS) => {
            crate::wal::exemplars::decode(buf).map(|(t, s)| Decoded::Exemplars(t, s))
        }
        _ => decode(buf).map(Decoded::Samples),
    }
}

/// Decodes a samples record; any inconsistency is an error, never a panic, and no
/// allocation is sized from a count before the bytes for it are known to be there.
pub(crate) fn decode(buf: &[u8]) -> Result<SamplesRecord, String> {
    let mut c = Cursor { buf, pos: 0 };
    let version = c.u8("version")?;
    if version == 1 {
        return Err(format!(
            "samples record of data format 1, written by an older Strata (series ids without \
             the metric name's hash); this Strata reads format {SAMPLES_VERSION}: load the data \
             into a new data directory"
        ));
    }
    if version != SAMPLES_VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let kind = c.u8("kind")?;
    if kind != KIND_SAMPLES {
        return Err(format!("unknown record kind {kind}"));
    }
    let tlen = c.u8("tenant length")? as usize;
    let tenant = TenantId::new(c.str(tlen, "tenant")?).map_err(|e| e.to_string())?;
    let n_defs = c.u32("series count")? as usize;
    let mut new_series = Vec::with_capacity(n_defs.min(c.remaining() / 10));
    for _ in 0..n_defs {
        let id = c.u64("series id")?;
        let n_labels = c.u16("label count")? as usize;
        if let Some(len) = series_key::canonical_len(&c.buf[c.pos..], n_labels) {
            // Logged in canonical form, as `encode` writes it: take the bytes as they are.
            new_series.push((id, SeriesKey::from_canonical(c.take(len, "labels")?)));
            continue;
        }
        let mut pairs = Vec::with_capacity(n_labels.min(c.remaining() / 8));
        for _ in 0..n_labels {
            let nlen = c.u32("label name length")? as usize;
            let name = c.str(nlen, "label name")?;
            let vlen = c.u32("label value length")? as usize;
            let value = c.str(vlen, "label value")?;
            pairs.push((name, value));
        }
        let labels = Labels::from_pairs(pairs).map_err(|r| format!("series {id}: {r}"))?;
        new_series.push((id, SeriesKey::from_labels(&labels)));
    }
    let n_samples = c.u32("sample count")? as usize;
    if c.remaining() != n_samples.saturating_mul(SAMPLE_LEN) {
        return Err(format!(
            "{n_samples} samples need {} bytes, {} remain",
            n_samples.saturating_mul(SAMPLE_LEN),
            c.remaining()
        ));
    }
    let mut samples = Vec::with_capacity(n_samples);
    for _ in 0..n_samples {
        let id = c.u64("sample series")?;
        let ts = c.u64("sample timestamp")? as i64;
        let value = f64::from_bits(c.u64("sample value")?);
        samples.push((id, Sample { ts, value }));
    }
    Ok(SamplesRecord {
        tenant,
        new_series,
        samples,
        histograms: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record() -> impl Strategy<Value = SamplesRecord> {
        let label = ("[a-z_]{1,8}", "[ -~é✓]{1,12}");
        let labels = prop::collection::vec(label, 0..5).prop_map(|mut pairs| {
            pairs.push(("__name__".into(), "m".into()));
            pairs.sort();
            pairs.dedup_by(|a, b| a.0 == b.0);
            SeriesKey::from_labels(&Labels::from_pairs(pairs).unwrap())
        });
        let sample = (any::<u64>(), any::<i64>(), any::<u64>()).prop_map(|(id, ts, bits)| {
            (
                id,
                Sample {
                    ts,
                    value: f64::from_bits(bits),
                },
            )
        });
        (
            "[A-Za-z0-9_-]{1,64}",
            prop::collection::vec((any::<u64>(), labels), 0..4),
            prop::collection::vec(sample, 0..50),
        )
            .prop_map(|(t, new_series, samples)| SamplesRecord {
                tenant: TenantId::new(&t).unwrap(),
                new_series,
                samples,
                histograms: Vec::new(),
            })
    }

    fn same(a: &SamplesRecord, b: &SamplesRecord) -> bool {
        // Compare values by bits: NaN payloads (the staleness marker) must survive.
        a.tenant == b.tenant
            && a.new_series == b.new_series
            && a.samples.len() == b.samples.len()
            && a.samples.iter().zip(&b.samples).all(|((i, x), (j, y))| {
                i == j && x.ts == y.ts && x.value.to_bits() == y.value.to_bits()
            })
    }

    proptest! {
        #[test]
        fn round_trip(rec in record()) {
            let back = decode(&encode(&rec)).unwrap();
            prop_assert!(same(&rec, &back), "{:?} != {:?}", rec, back);
        }

        #[test]
        fn damaged_records_are_errors_not_panics(rec in record(), cut in any::<prop::sample::Index>(),
                                                 flip in any::<prop::sample::Index>()) {
            let bytes = encode(&rec);
            let _ = decode(&bytes[..cut.index(bytes.len())]);
            let mut flipped = bytes.clone();
            let i = flip.index(flipped.len());
            flipped[i] ^= 0xFF;
            let _ = decode(&flipped);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn huge_declared_counts_do_not_allocate() {
        let mut b = vec![SAMPLES_VERSION, KIND_SAMPLES, 1, b'a'];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(&b).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
