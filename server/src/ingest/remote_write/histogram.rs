//! The `Histogram` message shared by remote-write 1.0 (`prometheus.Histogram`, fields 1-16)
//! and 2.0 (`io.prometheus.write.v2.Histogram`, the same fields plus `start_timestamp` 17),
//! read in place into a [`strata_engine::Histogram`].
//!
//! It accepts and refuses what prost's decoder for the messages in `proto.rs` does: the last
//! of a oneof's fields wins, repeated scalars come packed or one per field, unknown fields are
//! skipped. The conversion is Prometheus's (`prompb/codec.go`, `ToIntHistogram`,
//! `ToFloatHistogram`): the `count` oneof decides integer or float; an integer histogram takes
//! `zero_count_int` and the `*_deltas`, a float one `zero_count_float` and the `*_counts`;
//! the other fields of the other kind are ignored. Structural checks (spans against buckets,
//! schema, negative counts) are the engine's ([`strata_engine::Histogram::validate`]); the
//! only one made here is the reset hint's range, which the engine's type cannot hold.

use strata_engine::{Counts, Histogram, ResetHint};

pub(crate) use crate::ingest::protobuf::Budget;
use crate::ingest::protobuf::{
    FIXED64, LEN, Reader, VARINT, WireError, doubles, expect, sint64s, span, take, zigzag32,
};

/// A decoded `Histogram` message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireHistogram {
    /// Field 15, milliseconds since the epoch.
    pub(crate) ts: i64,
    /// Field 17 (remote-write 2.0 only; 0 when absent).
    pub(crate) start_ts: i64,
    /// The histogram, or why it cannot be one (an out-of-range reset hint).
    pub(crate) h: Result<Histogram, String>,
}

/// Which oneof member was read last.
enum Num {
    Int(u64),
    Float(f64),
}

/// Decodes a `Histogram` message; `v2` reads field 17 as the start timestamp (in 1.0 it is
/// an unknown field). `depth` is what is left of the protobuf reader's recursion limit for
/// its unknown fields.
pub(crate) fn histogram(
    buf: &[u8],
    v2: bool,
    depth: u32,
    budget: &mut Budget,
) -> Result<WireHistogram, WireError> {
    let (mut count, mut zero_count) = (None, None);
    let (mut sum, mut schema, mut zero_threshold, mut reset_hint) = (0.0, 0i32, 0.0, 0i32);
    let (mut ts, mut start_ts) = (0i64, 0i64);
    let (mut neg_spans, mut pos_spans) = (Vec::new(), Vec::new());
    let (mut neg_deltas, mut pos_deltas) = (Vec::new(), Vec::new());
    let (mut neg_counts, mut pos_counts) = (Vec::new(), Vec::new());
    let mut custom = Vec::new();
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("Histogram.count_int", wire, VARINT)?;
                count = Some(Num::Int(r.varint()?));
            }
            2 => {
                expect("Histogram.count_float", wire, FIXED64)?;
                count = Some(Num::Float(f64::from_bits(r.fixed64()?)));
            }
            3 => {
                expect("Histogram.sum", wire, FIXED64)?;
                sum = f64::from_bits(r.fixed64()?);
            }
            4 => {
                expect("Histogram.schema", wire, VARINT)?;
                schema = zigzag32(r.varint()? as u32);
            }
            5 => {
                expect("Histogram.zero_threshold", wire, FIXED64)?;
                zero_threshold = f64::from_bits(r.fixed64()?);
            }
            6 => {
                expect("Histogram.zero_count_int", wire, VARINT)?;
                zero_count = Some(Num::Int(r.varint()?));
            }
            7 => {
                expect("Histogram.zero_count_float", wire, FIXED64)?;
                zero_count = Some(Num::Float(f64::from_bits(r.fixed64()?)));
            }
            8 | 11 => {
                expect("Histogram.spans", wire, LEN)?;
                let span = span(r.len_delimited()?, depth - 1)?;
                take(budget, 1)?;
                if tag == 8 {
                    &mut neg_spans
                } else {
                    &mut pos_spans
                }
                .push(span);
            }
            9 | 12 => {
                let out = if tag == 9 {
                    &mut neg_deltas
                } else {
                    &mut pos_deltas
                };
                sint64s("Histogram.deltas", &mut r, wire, out, budget)?;
            }
            10 | 13 => {
                let out = if tag == 10 {
                    &mut neg_counts
                } else {
                    &mut pos_counts
                };
                doubles("Histogram.counts", &mut r, wire, out, budget)?;
            }
            14 => {
                expect("Histogram.reset_hint", wire, VARINT)?;
                reset_hint = r.varint()? as i32;
            }
            15 => {
                expect("Histogram.timestamp", wire, VARINT)?;
                ts = r.varint()? as i64;
            }
            16 => doubles("Histogram.custom_values", &mut r, wire, &mut custom, budget)?,
            17 if v2 => {
                expect("Histogram.start_timestamp", wire, VARINT)?;
                start_ts = r.varint()? as i64;
            }
            _ => r.skip(tag, wire, depth)?,
        }
    }
    let counts = match count {
        Some(Num::Float(count)) => Counts::Float {
            count,
            zero_count: match zero_count {
                Some(Num::Float(z)) => z,
                _ => 0.0,
            },
            positive: pos_counts,
            negative: neg_counts,
        },
        Some(Num::Int(_)) | None => Counts::Int {
            count: match count {
                Some(Num::Int(c)) => c,
                _ => 0,
            },
            zero_count: match zero_count {
                Some(Num::Int(z)) => z,
                _ => 0,
            },
            positive_deltas: pos_deltas,
            negative_deltas: neg_deltas,
        },
    };
    let h = match u8::try_from(reset_hint).ok().and_then(ResetHint::from_u8) {
        Some(reset_hint) => Ok(Histogram {
            schema,
            zero_threshold,
            sum,
            reset_hint,
            positive_spans: pos_spans,
            negative_spans: neg_spans,
            custom_values: custom,
            counts,
        }),
        None => Err(format!(
            "histogram has reset_hint {reset_hint}, which must be 0 (unknown), 1 (yes), 2 (no) or 3 (gauge)"
        )),
    };
    Ok(WireHistogram { ts, start_ts, h })
}
