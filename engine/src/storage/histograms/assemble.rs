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
/// (its bucket rows at those timestamps, in any order; the bucket file's own order,
/// (negative, bucket, ts), costs no sort), handed to `visit` in time order. `path` names
/// the bucket file in errors.
pub(crate) fn assemble_series(
    id: SeriesId,
    heads: Vec<(i64, Histogram)>,
    mut rows: Vec<BucketRow>,
    path: &Path,
    visit: &mut dyn FnMut(SeriesId, HistogramSample),
) -> Result<()> {
    let key = |r: &BucketRow| (r.negative, r.bucket, r.ts);
    if !rows.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        rows.sort_by_key(key);
    }
    let (rows, starts) = by_sample(&heads, rows, path, id)?;
    for (k, (ts, mut h)) in heads.into_iter().enumerate() {
        fill(&mut h, &rows[starts[k]..starts[k + 1]], path, id, ts)?;
        visit(id, HistogramSample { ts, h: Arc::new(h) });
    }
    Ok(())
}

/// `rows` (sorted by (negative, bucket, ts)) regrouped sample by sample, each sample's rows
/// still in (negative, bucket) order: a counting sort on the sample's position in `heads`,
/// found by walking each bucket's run of timestamps alongside `heads`. Returns the rows
/// and, per sample `k`, its rows' start (`starts[k]..starts[k + 1]`).
fn by_sample(
    heads: &[(i64, Histogram)],
    rows: Vec<BucketRow>,
    path: &Path,
    id: SeriesId,
) -> Result<(Vec<BucketRow>, Vec<usize>)> {
    let mut slot = Vec::with_capacity(rows.len());
    let mut counts = vec![0usize; heads.len() + 1];
    let mut k = 0;
    let mut prev: Option<&BucketRow> = None;
    for r in &rows {
        // A new bucket run starts again from the first sample.
        if prev.is_none_or(|p| (p.negative, p.bucket) != (r.negative, r.bucket)) {
            k = 0;
        }
        // Mostly the very next sample: look there before searching.
        if heads.get(k).is_none_or(|(ts, _)| *ts != r.ts) {
            k += heads[k..].partition_point(|(ts, _)| *ts < r.ts);
        }
        if heads.get(k).is_none_or(|(ts, _)| *ts != r.ts) {
            return Err(fail(path, id, r.ts, "bucket rows without a histogram"));
        }
        slot.push(k);
        counts[k + 1] += 1;
        k += 1;
        prev = Some(r);
    }
    for k in 1..counts.len() {
        counts[k] += counts[k - 1];
    }
    let starts = counts.clone();
    let mut out = vec![
        BucketRow {
            ts: 0,
            negative: false,
            bucket: 0,
            count: None,
            count_float: None,
        };
        rows.len()
    ];
    for (r, k) in rows.into_iter().zip(slot) {
        out[counts[k]] = r;
        counts[k] += 1;
    }
    Ok((out, starts))
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
