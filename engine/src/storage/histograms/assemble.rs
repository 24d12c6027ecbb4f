//! Reassembling histogram samples from a histograms file's rows (histograms without their
//! bucket counts) and the bucket file's rows of the same series: for each sample, walk its
//! spans and take, for every index, the bucket row at the sample's ts; integer deltas come
//! back by differencing the absolute counts. Any mismatch between the two files (a
//! missing, extra, duplicate or mistyped bucket row) is an error naming the series and ts.

use std::path::Path;
use std::sync::Arc;

use super::buckets::{BucketRow, indexes};
use crate::Result;
use crate::model::histogram::{Counts, Histogram, HistogramSample};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;

/// Series `id`'s samples: `heads` (in time order, bucket lists empty) filled from `rows`
/// (its bucket rows at those timestamps, in any order), handed to `visit` in time order.
/// `path` names the bucket file in errors.
pub(crate) fn assemble_series(
    id: SeriesId,
    heads: Vec<(i64, Histogram)>,
    mut rows: Vec<BucketRow>,
    path: &Path,
    visit: &mut dyn FnMut(SeriesId, HistogramSample),
) -> Result<()> {
    rows.sort_by_key(|r| (r.ts, r.negative, r.bucket));
    let mut at = 0;
    for (ts, mut h) in heads {
        let n = rows[at..].partition_point(|r| r.ts < ts);
        if n > 0 {
            let orphan = rows[at].ts;
            return Err(fail(path, id, orphan, "bucket rows without a histogram"));
        }
        let end = at + rows[at..].partition_point(|r| r.ts <= ts);
        fill(&mut h, &rows[at..end], path, id, ts)?;
        at = end;
        visit(id, HistogramSample { ts, h: Arc::new(h) });
    }
    if let Some(r) = rows.get(at) {
        return Err(fail(path, id, r.ts, "bucket rows without a histogram"));
    }
    Ok(())
}

fn fail(path: &Path, id: SeriesId, ts: i64, what: &str) -> crate::Error {
    bad(path, format!("histogram of series {id} at {ts}: {what}"))
}

/// Fills `h`'s bucket lists from `rows`, its bucket rows sorted by (negative, bucket).
fn fill(h: &mut Histogram, rows: &[BucketRow], path: &Path, id: SeriesId, ts: i64) -> Result<()> {
    let err = |what: &str| fail(path, id, ts, what);
    let pos = indexes(&h.positive_spans).ok_or_else(|| err("positive spans overlap"))?;
    let neg = indexes(&h.negative_spans).ok_or_else(|| err("negative spans overlap"))?;
    if rows.len() != pos.len() + neg.len() {
        return Err(err(&format!(
            "the spans cover {} buckets, the bucket file holds {}",
            pos.len() + neg.len(),
            rows.len()
        )));
    }
    let (prow, nrow) = rows.split_at(pos.len());
    for (want, side, negative) in [(&pos, prow, false), (&neg, nrow, true)] {
        for (&i, r) in want.iter().zip(side) {
            if r.negative != negative || r.bucket != i {
                return Err(err(&format!(
                    "expected bucket {i} (negative: {negative}), found {} (negative: {})",
                    r.bucket, r.negative
                )));
            }
        }
    }
    match &mut h.counts {
        Counts::Int {
            positive_deltas,
            negative_deltas,
            ..
        } => {
            for (side, out) in [(prow, positive_deltas), (nrow, negative_deltas)] {
                let mut prev = 0u64;
                for r in side {
                    let c = r
                        .count
                        .ok_or_else(|| err("an integer histogram's bucket without count"))?;
                    out.push(c.wrapping_sub(prev) as i64);
                    prev = c;
                }
            }
        }
        Counts::Float {
            positive, negative, ..
        } => {
            for (side, out) in [(prow, positive), (nrow, negative)] {
                for r in side {
                    let c = r
                        .count_float
                        .ok_or_else(|| err("a float histogram's bucket without count_float"))?;
                    out.push(c);
                }
            }
        }
    }
    Ok(())
}
