//! The engine's WAL records: a write logs the series definitions it adds as one record per
//! head shard, then one record with the samples it stored (see `docs/formats/engine-wal.md`). Only accepted samples are logged, so replay
//! applies records without re-checking any limit. A write that stored native histograms
//! logs them in the same record, of kind 5; float-only records are unchanged (kind 1).

pub(crate) mod exemplars;
pub(crate) mod frame;
pub(crate) mod metadata;
pub(crate) mod pending;
pub(crate) mod spans_logs;

use std::sync::Arc;

use crate::model::series::SeriesId;
use crate::model::series_key::{self, SeriesKey};
use crate::wal_records::frame::{
    Cursor, KIND_EXEMPLARS, KIND_LOGS, KIND_METADATA, KIND_SAMPLES, KIND_SAMPLES_H, KIND_SPANS,
    SAMPLES_VERSION,
};
use crate::{Labels, Sample, TenantId};

/// A decoded samples record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SamplesRecord {
    pub(crate) tenant: TenantId,
    /// Series first seen in this write, with the ids they were given.
    pub(crate) new_series: Vec<(SeriesId, SeriesKey)>,
    pub(crate) samples: Vec<(SeriesId, Sample)>,
    /// Native histograms.
    pub(crate) histograms: Vec<LoggedHist>,
}

/// A logged native histogram: series, timestamp, encoding ([`crate::Histogram::encode`]).
pub(crate) type LoggedHist = (SeriesId, i64, Arc<[u8]>);

/// Size of one encoded sample: series id, timestamp, value bits.
const SAMPLE_LEN: usize = 24;
/// Size of one histogram's fixed fields: series id, timestamp, encoding length.
const HIST_HEAD_LEN: usize = 20;

pub(crate) fn encode(rec: &SamplesRecord) -> Vec<u8> {
    let defs: usize = rec
        .new_series
        .iter()
        .map(|(_, k)| 10 + k.bytes().len())
        .sum();
    let hists: usize = rec
        .histograms
        .iter()
        .map(|(_, _, b)| HIST_HEAD_LEN + b.len())
        .sum();
    let mut out = Vec::with_capacity(
        15 + rec.tenant.as_str().len() + defs + rec.samples.len() * SAMPLE_LEN + hists,
    );
    let kind = if rec.histograms.is_empty() {
        KIND_SAMPLES
    } else {
        KIND_SAMPLES_H
    };
    out.extend_from_slice(&[SAMPLES_VERSION, kind]);
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
    if kind == KIND_SAMPLES_H {
        out.extend_from_slice(&(rec.histograms.len() as u32).to_le_bytes());
        for (id, ts, bytes) in &rec.histograms {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&ts.to_le_bytes());
            // Lossless: an encoded histogram is far below 4 GiB (its bucket counts are u16).
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
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
    Metadata(TenantId, metadata::Mode, metadata::Families),
}

/// Decodes a record of any kind.
pub(crate) fn decode_any(buf: &[u8]) -> Result<Decoded, String> {
    match buf.get(1) {
        Some(&KIND_SPANS) => {
            crate::wal_records::spans_logs::decode(buf).map(|(t, r)| Decoded::Spans(t, r))
        }
        Some(&KIND_LOGS) => {
            crate::wal_records::spans_logs::decode(buf).map(|(t, r)| Decoded::Logs(t, r))
        }
        Some(&KIND_EXEMPLARS) => {
            crate::wal_records::exemplars::decode(buf).map(|(t, s)| Decoded::Exemplars(t, s))
        }
        Some(&KIND_METADATA) => metadata::decode(buf).map(|(t, m, f)| Decoded::Metadata(t, m, f)),
        // Kinds 1 and 5 (samples, with histograms), and unknown kinds refused by `decode`.
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
    if kind != KIND_SAMPLES && kind != KIND_SAMPLES_H {
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
    let need = n_samples.saturating_mul(SAMPLE_LEN);
    // Kind 1 ends with the samples; kind 5 has its histograms after them.
    let fits = match kind {
        KIND_SAMPLES => c.remaining() == need,
        _ => c.remaining() >= need,
    };
    if !fits {
        return Err(format!(
            "{n_samples} samples need {need} bytes, {} remain",
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
    let histograms = if kind == KIND_SAMPLES_H {
        decode_histograms(&mut c)?
    } else {
        Vec::new()
    };
    Ok(SamplesRecord {
        tenant,
        new_series,
        samples,
        histograms,
    })
}

/// The histograms of a kind 5 record, which must end exactly after them. Each encoding is
/// decoded once to check it, so a damaged one is an error here, not at a later read.
fn decode_histograms(c: &mut Cursor<'_>) -> Result<Vec<LoggedHist>, String> {
    let n = c.u32("histogram count")? as usize;
    let mut out = Vec::with_capacity(n.min(c.remaining() / HIST_HEAD_LEN));
    for i in 0..n {
        let id = c.u64("histogram series")?;
        let ts = c.u64("histogram timestamp")? as i64;
        let len = c.u32("histogram length")? as usize;
        let bytes = c.take(len, "histogram")?;
        if let Err(e) = crate::Histogram::decode(bytes) {
            return Err(format!("histogram {i} of series {id} at {ts}: {e}"));
        }
        out.push((id, ts, Arc::from(bytes)));
    }
    if c.remaining() != 0 {
        return Err(format!("{} bytes after the last histogram", c.remaining()));
    }
    Ok(out)
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
            prop::collection::vec((any::<u64>(), any::<i64>(), histogram()), 0..6),
        )
            .prop_map(|(t, new_series, samples, hists)| SamplesRecord {
                tenant: TenantId::new(&t).unwrap(),
                new_series,
                samples,
                histograms: hists
                    .into_iter()
                    .map(|(id, ts, h)| (id, ts, Arc::from(h.to_bytes())))
                    .collect(),
            })
    }

    /// Histograms of any shape the encoding holds (not necessarily valid ones: the WAL
    /// logs what the write path accepted, and must not care).
    fn histogram() -> impl Strategy<Value = crate::Histogram> {
        use crate::{Counts, Histogram, ResetHint, Span};
        let spans = || {
            prop::collection::vec((-5i32..5, 0u32..4), 0..3).prop_map(|v| {
                v.into_iter()
                    .map(|(offset, length)| Span { offset, length })
                    .collect::<Vec<_>>()
            })
        };
        let counts = prop_oneof![
            (
                any::<u64>(),
                any::<u64>(),
                prop::collection::vec(any::<i64>(), 0..6),
                prop::collection::vec(any::<i64>(), 0..6),
            )
                .prop_map(|(count, zero_count, p, n)| Counts::Int {
                    count,
                    zero_count,
                    positive_deltas: p,
                    negative_deltas: n,
                }),
            (
                any::<u64>(),
                any::<u64>(),
                prop::collection::vec(any::<u64>(), 0..6),
                prop::collection::vec(any::<u64>(), 0..6),
            )
                .prop_map(|(count, zero, p, n)| Counts::Float {
                    count: f64::from_bits(count),
                    zero_count: f64::from_bits(zero),
                    positive: p.into_iter().map(f64::from_bits).collect(),
                    negative: n.into_iter().map(f64::from_bits).collect(),
                }),
        ];
        (
            prop_oneof![-4i32..=8, Just(-53)],
            any::<u64>(),
            any::<u64>(),
            0u8..4,
            spans(),
            spans(),
            prop::collection::vec(any::<u64>(), 0..4),
            counts,
        )
            .prop_map(|(schema, zt, sum, hint, pos, neg, cv, counts)| Histogram {
                schema,
                zero_threshold: f64::from_bits(zt),
                sum: f64::from_bits(sum),
                reset_hint: ResetHint::from_u8(hint).unwrap(),
                positive_spans: pos,
                negative_spans: neg,
                custom_values: cv.into_iter().map(f64::from_bits).collect(),
                counts,
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
            && a.histograms == b.histograms
    }

    proptest! {
        #[test]
        fn round_trip(rec in record()) {
            let back = decode(&encode(&rec)).unwrap();
            prop_assert!(same(&rec, &back), "{:?} != {:?}", rec, back);
        }

        #[test]
        fn histograms_follow_the_unchanged_float_bytes(rec in record()) {
            let floats = SamplesRecord { histograms: Vec::new(), ..rec.clone() };
            let plain = encode(&floats);
            prop_assert_eq!(plain[1], KIND_SAMPLES, "float-only records stay kind 1");
            let with = encode(&rec);
            if rec.histograms.is_empty() {
                prop_assert_eq!(&with, &plain);
            } else {
                prop_assert_eq!(with[1], KIND_SAMPLES_H);
                prop_assert_eq!(with[0], plain[0]);
                prop_assert_eq!(&with[2..plain.len()], &plain[2..]);
                let back = decode(&with).unwrap();
                // The histograms decode to what was encoded, bit for bit.
                for ((_, _, a), (_, _, b)) in rec.histograms.iter().zip(&back.histograms) {
                    let h = crate::Histogram::decode(b).unwrap();
                    prop_assert_eq!(&h.to_bytes()[..], &a[..]);
                }
            }
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
    fn a_damaged_histogram_or_trailing_bytes_are_refused() {
        let h = crate::Histogram {
            schema: 0,
            zero_threshold: 0.0,
            sum: 1.0,
            reset_hint: crate::ResetHint::Unknown,
            positive_spans: vec![crate::Span {
                offset: 0,
                length: 1,
            }],
            negative_spans: vec![],
            custom_values: vec![],
            counts: crate::Counts::Int {
                count: 1,
                zero_count: 0,
                positive_deltas: vec![1],
                negative_deltas: vec![],
            },
        };
        let rec = SamplesRecord {
            tenant: TenantId::new("a").unwrap(),
            new_series: Vec::new(),
            samples: Vec::new(),
            histograms: vec![(7, 1_000, Arc::from(h.to_bytes()))],
        };
        let good = encode(&rec);
        assert_eq!(decode(&good).unwrap(), rec);
        let mut trailing = good.clone();
        trailing.push(0);
        let err = decode(&trailing).unwrap_err();
        assert!(err.contains("after the last histogram"), "{err}");
        // The histogram's first byte (its flags) set to unknown bits.
        let mut bad = good.clone();
        let at = good.len() - h.to_bytes().len();
        bad[at] = 0xF8;
        let err = decode(&bad).unwrap_err();
        assert!(err.contains("histogram 0 of series 7 at 1000"), "{err}");
        // Kind 1 with histogram bytes after its samples is refused, as before.
        let mut kind1 = good;
        kind1[1] = KIND_SAMPLES;
        assert!(decode(&kind1).is_err());
    }

    #[test]
    fn huge_declared_counts_do_not_allocate() {
        let mut b = vec![SAMPLES_VERSION, KIND_SAMPLES, 1, b'a'];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(&b).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        // Kind 5: no series, no samples, u32::MAX histograms.
        let mut b = vec![
            SAMPLES_VERSION,
            KIND_SAMPLES_H,
            1,
            b'a',
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(&b).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
