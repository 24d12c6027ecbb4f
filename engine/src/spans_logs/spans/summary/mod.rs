//! A spans file's summary: `spans-….sum` beside `spans-….parquet`, what the file's spans
//! hold per service: their span names, status codes, kinds, the range of their durations,
//! and per attribute key (of the span, its resource and its instrumentation scope) the
//! values seen: a few distinct strings, the range of the numbers, the booleans
//! (`docs/formats/spans-logs.md`, "Spans summary files").
//!
//! Why: a TraceQL search with no match read every hour partition of its range to find
//! nothing (a week: 168 hours of ~80 ms). From the summaries of an hour's files a search
//! can prove that no span of the hour meets its condition ([`SpanTest`]) and skip the hour
//! (`query/src/traceql/search.rs`). The proof is never wrong: a test the summary cannot
//! decide (many distinct values, a regular expression over many, a `nil`) says "may
//! match", and the hour is read.
//!
//! The file is derived data, not listed in manifests, as the trace-id filter and the logs
//! summary are: a flush and a compaction write it (synced) before the manifest lists their
//! spans file, maintenance builds it for a committed spans file that lacks one (see
//! `Core::build_span_summaries`), and it is deleted with its spans file. One that is
//! missing, of another length of spans file, or fails its checksum is not used: the search
//! then reads the hour as before.

mod build;
mod check;
mod codec;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub(crate) use build::{Builder, build_from_file, write_for};
pub use check::{AttrScope, AttrTest, CmpOp, Number, SpanTest, StrTest};

use crate::Result;
use crate::model::records::SpanRecord;

/// Distinct string values kept per attribute key and service; past it, "many".
pub(crate) const MAX_VALUES: usize = 64;
/// Distinct span names kept per service; past it, "many".
pub(crate) const MAX_NAMES: usize = 256;
/// The longest string value kept (bytes); a longer one makes its set "many".
pub(crate) const MAX_VALUE_BYTES: usize = 256;
/// Attribute keys kept per scope and service; past it, any other key may be present.
pub(crate) const MAX_KEYS: usize = 512;

/// The summary file of the spans file at `spans`.
pub(crate) fn path_for(spans: &Path) -> PathBuf {
    spans.with_extension(crate::storage::partition::SUMMARY_EXT)
}

/// Distinct strings: all of them, sorted, or too many to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Values {
    /// Every distinct value seen (possibly none), sorted.
    Few(Vec<String>),
    /// More than the cap (or one too long): any string may be there.
    Many,
}

/// The values one attribute key holds in one service's spans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrValues {
    /// Its string values.
    pub(crate) strings: Values,
    /// The least and greatest of its int and double values (doubles as they are, ints as
    /// `f64`), if it has any that is not NaN.
    pub(crate) numbers: Option<(f64, f64)>,
    /// Whether one of its doubles is NaN (a numeric test on it then cannot be decided).
    pub(crate) nan: bool,
    /// Its booleans seen: 1 `false`, 2 `true`.
    pub(crate) bools: u8,
    /// Whether it holds a value of another type (bytes, array, kvlist).
    pub(crate) other: bool,
}

/// The attribute keys of one scope in one service's spans, sorted, with their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Keys {
    pub(crate) keys: Vec<(String, AttrValues)>,
    /// Whether keys past [`MAX_KEYS`] were left out (any other key may be present).
    pub(crate) more: bool,
}

impl Keys {
    pub(crate) fn get(&self, key: &str) -> Option<&AttrValues> {
        self.keys
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| &self.keys[i].1)
    }
}

/// What the spans of one service (their `service_name`) hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceSummary {
    pub(crate) name: String,
    pub(crate) spans: u64,
    /// Span names.
    pub(crate) names: Values,
    /// Status codes seen: bit `c` for code `c` in 0..63, bit 63 for any other.
    pub(crate) status: u64,
    /// Kinds seen, as status codes are.
    pub(crate) kinds: u64,
    /// The least and greatest duration (ns, `end - start` saturated as the column holds it).
    pub(crate) duration: (i64, i64),
    /// Attribute keys of the span, the resource and the instrumentation scope
    /// ([`AttrScope`] order).
    pub(crate) attrs: [Keys; 3],
}

/// The bit of code `c` in a status or kind mask.
pub(crate) fn code_bit(c: i32) -> u64 {
    if (0..63).contains(&c) {
        1 << c
    } else {
        1 << 63
    }
}

/// A parsed spans summary: its services, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanSummary {
    services: Vec<ServiceSummary>,
}

impl SpanSummary {
    /// Reads the summary of the spans file at `spans`. `Ok(None)` when there is none, or it
    /// does not match the spans file (length) or its own checksum.
    #[cfg(test)]
    pub(crate) fn open(spans: &Path) -> Result<Option<Self>> {
        Self::open_sized(spans, None)
    }

    /// [`SpanSummary::open`] for a spans file of `spans_len` bytes, when that is known
    /// without reading the disk (the file may not be there yet: a bucket's set).
    pub(crate) fn open_sized(spans: &Path, spans_len: Option<u64>) -> Result<Option<Self>> {
        let Some((map, spans_len)) =
            crate::storage::fs::map_derived(spans, &path_for(spans), spans_len)?
        else {
            return Ok(None);
        };
        // Parsed whole (the mapping is dropped): tests read the parsed form only.
        Ok(codec::parse(&map, Some(spans_len)).map(|services| Self { services }))
    }

    /// The summary of `spans` (records in memory, or a test's), as a file would hold it.
    pub fn of_spans(spans: &[SpanRecord]) -> Self {
        let mut b = Builder::default();
        b.add_records(&spans.iter().collect::<Vec<_>>());
        b.into_summary()
    }

    /// The services whose spans it summarises, sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name.as_str())
    }

    /// The spans it summarises.
    pub fn spans(&self) -> u64 {
        self.services.iter().map(|s| s.spans).sum()
    }

    /// Whether a span of the file may meet `test`; `false` proves that none does.
    pub fn may_match(&self, test: &SpanTest) -> bool {
        self.services.iter().any(|s| test.may_match(s))
    }
}
