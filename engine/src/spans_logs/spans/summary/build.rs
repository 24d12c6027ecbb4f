//! Building a spans summary: from the spans a flush writes, from a spans file read back
//! (maintenance, a rewrite, a compaction whose inputs lack one), or from other summaries
//! (compaction).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::codec::{encode, write_synced};
use super::{
    AttrValues, Keys, MAX_KEYS, MAX_NAMES, MAX_VALUE_BYTES, MAX_VALUES, ServiceSummary,
    SpanSummary, Values, code_bit, path_for,
};
use crate::model::anyvalue::AnyValue;
use crate::model::records::SpanRecord;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// Distinct strings being gathered, up to a cap.
#[derive(Debug, Default)]
struct ValuesAcc {
    set: HashSet<String>,
    many: bool,
}

impl ValuesAcc {
    fn add(&mut self, v: &str, cap: usize) {
        if self.many || self.set.contains(v) {
            return;
        }
        if v.len() > MAX_VALUE_BYTES || self.set.len() >= cap {
            self.many = true;
            self.set = HashSet::new();
        } else {
            self.set.insert(v.to_owned());
        }
    }

    fn add_values(&mut self, v: &Values, cap: usize) {
        match v {
            Values::Few(v) => v.iter().for_each(|s| self.add(s, cap)),
            Values::Many => {
                self.many = true;
                self.set = HashSet::new();
            }
        }
    }

    fn finish(self) -> Values {
        if self.many {
            return Values::Many;
        }
        let mut v: Vec<String> = self.set.into_iter().collect();
        v.sort_unstable();
        Values::Few(v)
    }
}

/// One attribute key's values being gathered.
#[derive(Debug, Default)]
struct AttrAcc {
    strings: ValuesAcc,
    numbers: Option<(f64, f64)>,
    nan: bool,
    bools: u8,
    other: bool,
}

impl AttrAcc {
    fn number(&mut self, x: f64) {
        if x.is_nan() {
            self.nan = true;
            return;
        }
        self.numbers = Some(match self.numbers {
            Some((lo, hi)) => (lo.min(x), hi.max(x)),
            None => (x, x),
        });
    }

    fn add(&mut self, v: &AnyValue) {
        match v {
            AnyValue::String(s) => self.strings.add(s, MAX_VALUES),
            AnyValue::Int(i) => self.number(*i as f64),
            AnyValue::Double(d) => self.number(*d),
            AnyValue::Bool(b) => self.bools |= if *b { 2 } else { 1 },
            _ => self.other = true,
        }
    }

    fn add_values(&mut self, v: &AttrValues) {
        self.strings.add_values(&v.strings, MAX_VALUES);
        if let Some((lo, hi)) = v.numbers {
            self.number(lo);
            self.number(hi);
        }
        self.nan |= v.nan;
        self.bools |= v.bools;
        self.other |= v.other;
    }

    fn finish(self) -> AttrValues {
        AttrValues {
            strings: self.strings.finish(),
            numbers: self.numbers,
            nan: self.nan,
            bools: self.bools,
            other: self.other,
        }
    }
}

/// One scope's keys being gathered.
#[derive(Debug, Default)]
struct KeysAcc {
    keys: HashMap<String, AttrAcc>,
    more: bool,
}

impl KeysAcc {
    /// The values of `key`; `None` once [`MAX_KEYS`] other keys are kept.
    fn key(&mut self, key: &str) -> Option<&mut AttrAcc> {
        if !self.keys.contains_key(key) {
            if self.keys.len() >= MAX_KEYS {
                self.more = true;
                return None;
            }
            self.keys.insert(key.to_owned(), AttrAcc::default());
        }
        self.keys.get_mut(key)
    }

    fn add(&mut self, attrs: &[(String, AnyValue)]) {
        for (k, v) in attrs {
            if let Some(a) = self.key(k) {
                a.add(v);
            }
        }
    }

    fn add_keys(&mut self, k: &Keys) {
        self.more |= k.more;
        for (key, v) in &k.keys {
            if let Some(a) = self.key(key) {
                a.add_values(v);
            }
        }
    }

    fn finish(self) -> Keys {
        let mut keys: Vec<(String, AttrValues)> = self
            .keys
            .into_iter()
            .map(|(k, a)| (k, a.finish()))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Keys {
            keys,
            more: self.more,
        }
    }
}

/// One service's spans being summarised.
#[derive(Debug, Default)]
struct ServiceAcc {
    spans: u64,
    names: ValuesAcc,
    status: u64,
    kinds: u64,
    duration: Option<(i64, i64)>,
    attrs: [KeysAcc; 3],
}

impl ServiceAcc {
    fn duration(&mut self, lo: i64, hi: i64) {
        self.duration = Some(match self.duration {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
}

/// Summarises spans per service.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    services: Vec<(String, ServiceAcc)>,
    by_name: HashMap<String, usize>,
    /// (resource or scope list, service) already added: the spans of one resource share
    /// its list, so each is read once per service.
    shared: HashSet<(usize, usize)>,
}

impl Builder {
    fn service(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.services.len();
        self.services.push((name.to_owned(), ServiceAcc::default()));
        self.by_name.insert(name.to_owned(), i);
        i
    }

    /// Adds spans as they are stored (a flush's, or read back from a file).
    pub(crate) fn add_records(&mut self, rows: &[&SpanRecord]) {
        // Addresses of lists of spans no longer held may be reused.
        self.shared.clear();
        // The previous span's service: runs of one service are common.
        let mut last: Option<(&str, usize)> = None;
        for r in rows {
            let i = match last {
                Some((name, i)) if name == r.service_name => i,
                _ => self.service(&r.service_name),
            };
            last = Some((&r.service_name, i));
            let resource = std::sync::Arc::as_ptr(&r.resource_attributes) as usize;
            let scope = std::sync::Arc::as_ptr(&r.scope) as usize;
            let new_resource = self.shared.insert((resource, i));
            let new_scope = self.shared.insert((scope, i));
            let s = &mut self.services[i].1;
            s.spans += 1;
            s.names.add(&r.name, MAX_NAMES);
            s.status |= code_bit(r.status_code);
            s.kinds |= code_bit(r.kind);
            let d = r.end_ns.saturating_sub(r.start_ns);
            s.duration(d, d);
            s.attrs[0].add(&r.attributes);
            if new_resource {
                s.attrs[1].add(&r.resource_attributes);
            }
            if new_scope {
                s.attrs[2].add(&r.scope.attributes);
            }
        }
    }

    /// Adds another summary's services.
    pub(crate) fn add_summary(&mut self, sum: &SpanSummary) {
        for from in &sum.services {
            let i = self.service(&from.name);
            let s = &mut self.services[i].1;
            s.spans += from.spans;
            s.names.add_values(&from.names, MAX_NAMES);
            s.status |= from.status;
            s.kinds |= from.kinds;
            if from.spans > 0 {
                s.duration(from.duration.0, from.duration.1);
            }
            for (acc, keys) in s.attrs.iter_mut().zip(&from.attrs) {
                acc.add_keys(keys);
            }
        }
    }

    fn finish_services(self) -> Vec<ServiceSummary> {
        let mut out: Vec<ServiceSummary> = self
            .services
            .into_iter()
            .map(|(name, s)| {
                let [span, resource, scope] = s.attrs;
                ServiceSummary {
                    name,
                    spans: s.spans,
                    names: s.names.finish(),
                    status: s.status,
                    kinds: s.kinds,
                    duration: s.duration.unwrap_or((0, 0)),
                    attrs: [span.finish(), resource.finish(), scope.finish()],
                }
            })
            .collect();
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The summary's bytes, for a spans file of `spans_len` bytes.
    pub(crate) fn finish(self, spans_len: u64) -> Vec<u8> {
        encode(&self.finish_services(), spans_len)
    }

    /// A summary of what was added, in memory.
    pub(crate) fn into_summary(self) -> SpanSummary {
        SpanSummary {
            services: self.finish_services(),
        }
    }
}

fn finish_into(path: &Path, b: Builder) -> Result<u64> {
    let len = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let bytes = b.finish(len);
    write_synced(&path_for(path), &bytes)?;
    Ok(bytes.len() as u64)
}

/// Writes the summary of the spans file at `path` from the spans written to it.
pub(crate) fn write_for(path: &Path, rows: &[&SpanRecord]) -> Result<u64> {
    let mut b = Builder::default();
    b.add_records(rows);
    finish_into(path, b)
}

/// Writes the summary of the spans file at `path`: merged from `inputs` when given (the
/// summaries of the files compacted into it), else from its spans read back.
pub(crate) fn build_from_file(path: &Path, inputs: Option<&[&SpanSummary]>) -> Result<u64> {
    let mut b = Builder::default();
    if let Some(inputs) = inputs {
        for s in inputs {
            b.add_summary(s);
        }
        return finish_into(path, b);
    }
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(path, e))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| bad(path, e))?;
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        let spans = crate::spans_logs::spans::arrow::spans_from_batch_at(&batch, path)?;
        b.add_records(&spans.iter().collect::<Vec<_>>());
    }
    finish_into(path, b)
}
