//! Reading the `logs` table for a LogQL query: one SQL scan per time window, with what
//! can be decided in SQL pushed down (time, `service_name` matchers, the line filters
//! before the first parser), and every row handed over as an [`Entry`].
//!
//! Pushed-down filters only narrow what is read (the Parquet statistics, page index and
//! row filters of the `logs` table); the pipeline checks every entry again, so SQL and
//! LogQL need not agree on corner cases for the answer to be right.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, FixedSizeBinaryArray, Int32Array, MapArray, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use datafusion::prelude::SessionContext;

use super::Limits;
use super::ast::{LineOp, MatchOp, Matcher, Stage};
use super::error::{Error, Result};
use super::streams::{
    Entry, INDEXED_RESOURCE_ATTRIBUTES, Labels, label_name, severity_metadata, stream_labels,
};
use crate::sql::{SqlConfig, SqlStream};

/// What a scan read: Loki's `totalLinesProcessed` and `totalBytesProcessed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Rows read from storage (after pushed-down filters).
    pub lines: u64,
    /// Their lines' bytes.
    pub bytes: u64,
    /// Of `lines`, those counted from the logs files' summaries, not read.
    pub summarized: u64,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL filter for one line filter, or `None` when it cannot be said in SQL.
fn line_filter_sql(op: LineOp, values: &[String]) -> Option<String> {
    let any = |f: &dyn Fn(&str) -> String| {
        let parts: Vec<String> = values.iter().map(|v| f(v)).collect();
        format!("({})", parts.join(" OR "))
    };
    match op {
        LineOp::Contains => Some(any(&|v| format!("strpos(body, {}) > 0", quote(v)))),
        // Every alternative must be absent; a record without a body has the empty line.
        LineOp::NotContains => {
            let parts: Vec<String> = values
                .iter()
                .map(|v| format!("strpos(coalesce(body, ''), {}) = 0", quote(v)))
                .collect();
            Some(format!("({})", parts.join(" AND ")))
        }
        LineOp::Match => Some(any(&|v| format!("regexp_like(body, {})", quote(v)))),
        _ => None,
    }
}

/// The SQL filter for a selector matcher on `service_name`, which is a column.
pub(crate) fn service_filter_sql(m: &Matcher) -> Option<String> {
    if m.name != "service_name" {
        return None;
    }
    // As the pipeline anchors it (`.` matches a newline too).
    let anchored = || quote(&format!("^(?s:{})$", m.value));
    Some(match m.op {
        MatchOp::Eq => format!("service_name = {}", quote(&m.value)),
        MatchOp::Ne => format!("service_name <> {}", quote(&m.value)),
        MatchOp::Re => format!("regexp_like(service_name, {})", anchored()),
        MatchOp::Nre => format!("NOT regexp_like(service_name, {})", anchored()),
    })
}

/// The SQL filter for a selector matcher on any stream label: `service_name` is a column;
/// another label is a resource attribute (its own name, or an indexed OTLP attribute it is
/// made from). Only matchers that an absent label cannot satisfy are pushed down (`=` a
/// non-empty value, `=~` a regex that does not match the empty string): the filter must
/// keep every row the selector keeps.
pub(crate) fn matcher_filter_sql(m: &Matcher) -> Option<String> {
    if m.name == "service_name" {
        return service_filter_sql(m);
    }
    let keys: Vec<&str> = std::iter::once(m.name.as_str())
        .chain(
            INDEXED_RESOURCE_ATTRIBUTES
                .iter()
                .copied()
                .filter(|k| label_name(k) == m.name),
        )
        .collect();
    let anchored = format!("^(?s:{})$", m.value);
    let test: Box<dyn Fn(&str) -> String> = match m.op {
        MatchOp::Eq if !m.value.is_empty() => {
            Box::new(|col| format!("{col} = {}", quote(&m.value)))
        }
        MatchOp::Re if regex::Regex::new(&anchored).is_ok_and(|re| !re.is_match("")) => {
            Box::new(|col| format!("regexp_like({col}, {})", quote(&anchored)))
        }
        _ => return None,
    };
    let parts: Vec<String> = keys
        .iter()
        .map(|k| test(&format!("resource_attributes[{}]", quote(k))))
        .collect();
    Some(format!("({})", parts.join(" OR ")))
}

/// The SQL of one window `[start_ns, end_ns)` of a selector and pipeline.
pub(crate) fn window_sql(
    selector: &[Matcher],
    pipeline: &[Stage],
    start_ns: i64,
    end_ns: i64,
) -> String {
    format!(
        "SELECT time, body, severity_number, severity_text, service_name, \
         resource_attributes, attributes, trace_id, span_id FROM logs WHERE {}",
        window_filter(selector, pipeline, start_ns, end_ns)
    )
}

/// The `WHERE` condition of [`window_sql`].
pub(crate) fn window_filter(
    selector: &[Matcher],
    pipeline: &[Stage],
    start_ns: i64,
    end_ns: i64,
) -> String {
    let mut cond = vec![
        format!("time >= to_timestamp_nanos({start_ns})"),
        format!("time < to_timestamp_nanos({end_ns})"),
    ];
    cond.extend(selector.iter().filter_map(matcher_filter_sql));
    for stage in pipeline {
        match stage {
            Stage::LineFilter(f) => cond.extend(line_filter_sql(f.op, &f.values)),
            // Label filters and format stages neither change the line nor depend on it
            // being unfiltered; anything that rewrites the line ends what SQL may check.
            Stage::LabelFilter(_)
            | Stage::Json(_)
            | Stage::Logfmt { .. }
            | Stage::Regexp(_)
            | Stage::Pattern(_)
            | Stage::Drop(_)
            | Stage::Keep(_)
            | Stage::LabelFormat(_) => {}
            Stage::LineFormat(_) | Stage::Decolorize | Stage::Unpack => break,
        }
    }
    cond.join(" AND ")
}

/// The columns of one batch of [`window_sql`]'s result.
struct Columns<'a> {
    time: &'a TimestampNanosecondArray,
    body: &'a StringArray,
    severity_number: &'a Int32Array,
    severity_text: &'a StringArray,
    service_name: &'a StringArray,
    resource: &'a MapArray,
    attributes: &'a MapArray,
    trace_id: &'a FixedSizeBinaryArray,
    span_id: &'a FixedSizeBinaryArray,
}

/// Column `i` of `batch` as the array type `T`.
pub(crate) fn column<T: 'static>(batch: &RecordBatch, i: usize) -> Result<&T> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| Error::Internal(format!("logs scan: column {i} has an unexpected type")))
}

impl<'a> Columns<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self> {
        Ok(Self {
            time: column(batch, 0)?,
            body: column(batch, 1)?,
            severity_number: column(batch, 2)?,
            severity_text: column(batch, 3)?,
            service_name: column(batch, 4)?,
            resource: column(batch, 5)?,
            attributes: column(batch, 6)?,
            trace_id: column(batch, 7)?,
            span_id: column(batch, 8)?,
        })
    }
}

/// The key-value pairs of row `i` of a `Map<Utf8, Utf8>` column.
pub(crate) fn map_pairs(map: &MapArray, i: usize) -> Result<Vec<(&str, &str)>> {
    let offsets = map.value_offsets();
    let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
    let keys = map
        .keys()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::Internal("logs scan: map keys are not utf8".into()))?;
    let values = map
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::Internal("logs scan: map values are not utf8".into()))?;
    Ok((from..to)
        .map(|j| (keys.value(j), values.value(j)))
        .collect())
}

/// One stream met by a scan: what it was stored as, its labels and its resource metadata.
struct Known {
    service_name: String,
    resource: Vec<(String, String)>,
    labels: Arc<Labels>,
    metadata: Vec<(String, String)>,
}

impl Known {
    fn is(&self, service_name: &str, resource: &[(&str, &str)]) -> bool {
        self.service_name == service_name
            && self.resource.len() == resource.len()
            && self
                .resource
                .iter()
                .zip(resource)
                .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
    }
}

/// Streams by the stored fields they come from, so each stream's labels are worked out
/// once per scan (rows of a file come sorted by service, but its hosts or pods interleave)
/// and equal label sets share one `Arc` (so per-stream caches hit). A stream's id (its
/// index here) lets callers keep their own per-stream state in a vector.
#[derive(Default)]
pub(crate) struct StreamCache {
    streams: Vec<Known>,
    by_hash: HashMap<u64, Vec<usize>>,
    interned: HashMap<Arc<Labels>, ()>,
    last: Option<usize>,
    /// The stream of the last row once [`MAX_STREAMS`] are remembered.
    overflow: Option<Known>,
}

/// Streams one scan remembers; a stream met after them is worked out for its row alone
/// and has the id [`StreamCache::UNCACHED`] (still correct, slower).
const MAX_STREAMS: usize = 100_000;

impl StreamCache {
    /// The id of a stream not remembered: callers must not keep state under it.
    pub(crate) const UNCACHED: usize = usize::MAX;

    /// The stream of a row: its labels, its resource metadata and its id.
    pub(crate) fn get(
        &mut self,
        service_name: &str,
        resource: &[(&str, &str)],
    ) -> (Arc<Labels>, &[(String, String)], usize) {
        let id = match self
            .last
            .filter(|&i| self.streams[i].is(service_name, resource))
        {
            Some(i) => i,
            None => self.lookup(service_name, resource),
        };
        self.last = Some(id);
        let k = &self.streams[id];
        (k.labels.clone(), &k.metadata, id)
    }

    fn lookup(&mut self, service_name: &str, resource: &[(&str, &str)]) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        service_name.hash(&mut h);
        for (k, v) in resource {
            k.hash(&mut h);
            v.hash(&mut h);
        }
        let hash = h.finish();
        if let Some(ids) = self.by_hash.get(&hash)
            && let Some(&id) = ids
                .iter()
                .find(|&&i| self.streams[i].is(service_name, resource))
        {
            return id;
        }
        let (labels, metadata) = stream_labels(service_name, resource.iter().copied());
        if self.streams.len() >= MAX_STREAMS {
            self.overflow = Some(Known {
                service_name: String::new(),
                resource: Vec::new(),
                labels: Arc::new(labels),
                metadata,
            });
            return Self::UNCACHED;
        }
        let labels = match self.interned.get_key_value(&labels) {
            Some((known, ())) => known.clone(),
            None => {
                let fresh = Arc::new(labels);
                self.interned.insert(fresh.clone(), ());
                fresh
            }
        };
        self.streams.push(Known {
            service_name: service_name.to_owned(),
            resource: resource
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            labels,
            metadata,
        });
        let id = self.streams.len() - 1;
        self.by_hash.entry(hash).or_default().push(id);
        id
    }
}

/// Runs `sql` and hands every row to `f` as an [`Entry`], until `f` breaks or the rows
/// end. Returns what was read; fails once more bytes than `limits` allow were read.
pub(crate) async fn for_each_entry(
    ctx: &SessionContext,
    config: &SqlConfig,
    limits: &Limits,
    sql: &str,
    mut f: impl FnMut(Entry) -> ControlFlow<()>,
) -> Result<(ScanStats, ControlFlow<()>)> {
    let mut stream = SqlStream::start(ctx, sql, config).await?;
    let mut stats = ScanStats::default();
    let mut cache = StreamCache::default();
    while let Some(batch) = stream.next_batch().await? {
        let c = Columns::of(&batch)?;
        for i in 0..batch.num_rows() {
            let resource = map_pairs(c.resource, i)?;
            let (stream, resource_metadata, _) = cache.get(c.service_name.value(i), &resource);
            let mut metadata: Vec<(String, String)> = resource_metadata.to_vec();
            for (k, v) in map_pairs(c.attributes, i)? {
                metadata.push((label_name(k), v.to_owned()));
            }
            let has = |name: &str| {
                stream.iter().any(|(k, _)| k == name) || metadata.iter().any(|(k, _)| k == name)
            };
            let severity =
                severity_metadata(c.severity_number.value(i), c.severity_text.value(i), has);
            metadata.extend(severity);
            if c.trace_id.is_valid(i) {
                metadata.push(("trace_id".into(), hex(c.trace_id.value(i))));
            }
            if c.span_id.is_valid(i) {
                metadata.push(("span_id".into(), hex(c.span_id.value(i))));
            }
            let line = if c.body.is_valid(i) {
                c.body.value(i).to_owned()
            } else {
                String::new()
            };
            stats.lines += 1;
            stats.bytes += line.len() as u64;
            limits.check_bytes(stats.bytes)?;
            let entry = Entry {
                ts_ns: c.time.value(i),
                line,
                stream,
                metadata,
            };
            if f(entry).is_break() {
                return Ok((stats, ControlFlow::Break(())));
            }
        }
    }
    Ok((stats, ControlFlow::Continue(())))
}

/// Lower-case hex of an id.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::ast::LineFilter;

    #[test]
    fn pushes_down_service_matchers_and_leading_line_filters() {
        let sel = vec![Matcher {
            name: "service_name".into(),
            op: MatchOp::Re,
            value: "a|b'".into(),
        }];
        let contains = |v: &str| {
            Stage::LineFilter(LineFilter {
                op: LineOp::Contains,
                values: vec![v.into()],
            })
        };
        let sql = window_sql(
            &sel,
            &[
                contains("x"),
                Stage::LineFormat("{{.a}}".into()),
                contains("y"),
            ],
            10,
            20,
        );
        assert!(
            sql.contains("regexp_like(service_name, '^(?s:a|b'')$')"),
            "{sql}"
        );
        assert!(sql.contains("strpos(body, 'x') > 0"), "{sql}");
        assert!(!sql.contains("'y'"), "after line_format: {sql}");
        assert!(sql.contains("time >= to_timestamp_nanos(10)"), "{sql}");
        assert!(sql.contains("time < to_timestamp_nanos(20)"), "{sql}");
    }
}
