//! Building a summary: from the records a flush writes, from a logs file's columns
//! (maintenance, a compaction input without one), or from other summaries (compaction).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::Path;

use arrow::array::{Array, AsArray, MapArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, TimestampNanosecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::codec::{GroupData, encode, write_synced};
use super::lines::{LineFilterBuilder, blocks_of_pages};
use super::{LogSummary, SecondCount, SummaryGroup, path_for, second_of};
use crate::model::records::LogRecord;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// Attribute names (as label names) whose values a group keeps: the labels a level comes
/// from in LogQL (`detected_level`, `level`, `severity_text`).
const LEVEL_NAMES: [&str; 3] = ["level", "detected_level", "severity_text"];

/// Whether `key` with every character other than ASCII letters, digits and `_` as `_` is
/// one of [`LEVEL_NAMES`] (none of which starts with a digit).
fn is_level_key(key: &str) -> bool {
    LEVEL_NAMES.iter().any(|name| {
        key.len() == name.len()
            && key
                .bytes()
                .zip(name.bytes())
                .all(|(k, n)| k == n || (n == b'_' && !k.is_ascii_alphanumeric()))
    })
}

/// One group being built.
struct Acc {
    group: SummaryGroup,
    resource: u32,
    seconds: Vec<SecondCount>,
    sorted: bool,
}

/// Counts records per group and second, and with `lines` set builds the line filter of
/// the records in the order added (file order).
#[derive(Default)]
pub(crate) struct Builder {
    pub(crate) lines: Option<LineFilterBuilder>,
    groups: Vec<Acc>,
    by_hash: HashMap<u64, Vec<usize>>,
    resources: Vec<Vec<(String, String)>>,
    resource_ids: HashMap<u64, Vec<u32>>,
}

fn hash_of(f: impl FnOnce(&mut DefaultHasher)) -> u64 {
    let mut h = DefaultHasher::new();
    f(&mut h);
    h.finish()
}

impl Builder {
    /// The id of a resource attribute list, interned.
    fn resource_id<'a>(&mut self, pairs: &[(&'a str, &'a str)]) -> u32 {
        let h = hash_of(|h| pairs.hash(h));
        let ids = self.resource_ids.entry(h).or_default();
        for &id in ids.iter() {
            let stored = &self.resources[id as usize];
            if stored.len() == pairs.len()
                && stored
                    .iter()
                    .zip(pairs)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
            {
                return id;
            }
        }
        let id = self.resources.len() as u32;
        self.resources.push(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        ids.push(id);
        id
    }

    /// The group of records with these labels, made if new; `keys` are added to its
    /// attribute keys.
    fn group_for(
        &mut self,
        resource: u32,
        service: &str,
        (number, text): (i32, &str),
        levels: &[(&str, &str)],
        keys: &[&str],
    ) -> usize {
        let h = hash_of(|h| (resource, service, number, text, levels).hash(h));
        let candidates = self.by_hash.entry(h).or_default();
        let found = candidates.iter().copied().find(|&g| {
            let a = &self.groups[g];
            a.resource == resource
                && a.group.service_name == service
                && a.group.severity_number == number
                && a.group.severity_text == text
                && a.group.level_attributes.len() == levels.len()
                && a.group
                    .level_attributes
                    .iter()
                    .zip(levels)
                    .all(|(x, y)| x.0 == y.0 && x.1 == y.1)
        });
        let g = match found {
            Some(g) => g,
            None => {
                let g = self.groups.len();
                self.groups.push(Acc {
                    group: SummaryGroup {
                        service_name: service.to_owned(),
                        resource: self.resources[resource as usize].clone(),
                        severity_number: number,
                        severity_text: text.to_owned(),
                        level_attributes: levels
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                        attribute_keys: Vec::new(),
                        seconds_at: (0, 0),
                        seconds: 0,
                    },
                    resource,
                    seconds: Vec::new(),
                    sorted: true,
                });
                candidates.push(g);
                g
            }
        };
        let acc = &mut self.groups[g];
        for k in keys {
            if !acc.group.attribute_keys.iter().any(|x| x == k) {
                acc.group.attribute_keys.push((*k).to_owned());
            }
        }
        g
    }

    /// Counts one record.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        resource: u32,
        service: &str,
        severity: (i32, &str),
        levels: &[(&str, &str)],
        keys: &[&str],
        time_ns: i64,
        body_len: u64,
    ) {
        let g = self.group_for(resource, service, severity, levels, keys);
        let (second, edge) = second_of(time_ns);
        self.groups[g].push(SecondCount {
            second,
            entries: 1,
            bytes: body_len,
            edge_entries: u64::from(edge),
            edge_bytes: if edge { body_len } else { 0 },
        });
    }

    /// Counts records as a flush writes them.
    pub(crate) fn add_records(&mut self, rows: &[&LogRecord]) {
        // Records of one resource share its list: interned once per list.
        let mut by_ptr: HashMap<*const crate::Attributes, u32> = HashMap::new();
        let mut text = String::new();
        for r in rows {
            let ptr = std::sync::Arc::as_ptr(&r.resource_attributes);
            let resource = match by_ptr.get(&ptr) {
                Some(&id) => id,
                None => {
                    let owned: Vec<(String, String)> = r
                        .resource_attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_text()))
                        .collect();
                    let pairs: Vec<(&str, &str)> = owned
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let id = self.resource_id(&pairs);
                    by_ptr.insert(ptr, id);
                    id
                }
            };
            let level_texts: Vec<(&str, String)> = r
                .attributes
                .iter()
                .filter(|(k, _)| is_level_key(k))
                .map(|(k, v)| (k.as_str(), v.to_text()))
                .collect();
            let levels: Vec<(&str, &str)> =
                level_texts.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let keys: Vec<&str> = r.attributes.iter().map(|(k, _)| k.as_str()).collect();
            let line: &str = match &r.body {
                Some(crate::AnyValue::String(s)) => s,
                Some(other) => {
                    text.clear();
                    // Writing to a String cannot fail.
                    let _ = other.write_text(&mut text);
                    &text
                }
                None => "",
            };
            let body_len = line.len();
            if let Some(lines) = &mut self.lines {
                lines.add(line.as_bytes());
            }
            self.add(
                resource,
                &r.service_name,
                (r.severity_number, &r.severity_text),
                &levels,
                &keys,
                r.time_ns,
                body_len as u64,
            );
        }
    }

    /// Counts the rows of a batch of the logs schema.
    pub(crate) fn add_batch(&mut self, batch: &RecordBatch, path: &Path) -> Result<()> {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| bad(path, format!("no column {name}")))
        };
        let time = col("time")?
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or_else(|| bad(path, "time is not a timestamp"))?;
        let number = col("severity_number")?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| bad(path, "severity_number is not Int32"))?;
        let strings = |name: &str| -> Result<&StringArray> {
            col(name)?
                .as_string_opt::<i32>()
                .ok_or_else(|| bad(path, format!("{name} is not a string")))
        };
        let (text, body, service) = (
            strings("severity_text")?,
            strings("body")?,
            strings("service_name")?,
        );
        let maps = |name: &str| -> Result<&MapArray> {
            col(name)?
                .as_map_opt()
                .ok_or_else(|| bad(path, format!("{name} is not a map")))
        };
        let (resource, attributes) = (maps("resource_attributes")?, maps("attributes")?);
        for i in 0..batch.num_rows() {
            let pairs = map_pairs(resource, i, path)?;
            let id = self.resource_id(&pairs);
            let attrs = map_pairs(attributes, i, path)?;
            let levels: Vec<(&str, &str)> = attrs
                .iter()
                .copied()
                .filter(|(k, _)| is_level_key(k))
                .collect();
            let keys: Vec<&str> = attrs.iter().map(|(k, _)| *k).collect();
            let line = if body.is_valid(i) { body.value(i) } else { "" };
            let len = line.len();
            if let Some(lines) = &mut self.lines {
                lines.add(line.as_bytes());
            }
            fn value(a: &StringArray, i: usize) -> &str {
                if a.is_valid(i) { a.value(i) } else { "" }
            }
            let sev = if number.is_valid(i) {
                number.value(i)
            } else {
                0
            };
            self.add(
                id,
                value(service, i),
                (sev, value(text, i)),
                &levels,
                &keys,
                time.value(i),
                len as u64,
            );
        }
        Ok(())
    }

    /// Adds the lines of a batch holding the `body` column to the line filter only.
    pub(crate) fn add_lines(&mut self, batch: &RecordBatch, path: &Path) -> Result<()> {
        let body = batch
            .column_by_name("body")
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| bad(path, "body is not a string column"))?;
        if let Some(lines) = &mut self.lines {
            for i in 0..body.len() {
                lines.add(if body.is_valid(i) {
                    body.value(i).as_bytes()
                } else {
                    b""
                });
            }
        }
        Ok(())
    }

    /// Adds another summary's counts.
    pub(crate) fn add_summary(&mut self, s: &LogSummary) {
        for (g, group) in s.groups().iter().enumerate() {
            let pairs: Vec<(&str, &str)> = group
                .resource
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let id = self.resource_id(&pairs);
            let levels: Vec<(&str, &str)> = group
                .level_attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let keys: Vec<&str> = group.attribute_keys.iter().map(String::as_str).collect();
            let at = self.group_for(
                id,
                &group.service_name,
                (group.severity_number, &group.severity_text),
                &levels,
                &keys,
            );
            for c in s.seconds(g) {
                self.groups[at].push(c);
            }
        }
    }

    /// The summary's bytes, for a logs file of `logs_len` bytes (0 for records in memory).
    pub(crate) fn finish(mut self, logs_len: u64) -> Vec<u8> {
        let filter = self.lines.take().map(LineFilterBuilder::finish);
        for a in &mut self.groups {
            a.settle();
            a.group.attribute_keys.sort_unstable();
        }
        let data: Vec<GroupData<'_>> = self
            .groups
            .iter()
            .map(|a| GroupData {
                group: &a.group,
                seconds: &a.seconds,
            })
            .collect();
        encode(&data, logs_len, filter.as_ref())
    }

    /// A summary of what was added, in memory.
    pub(crate) fn into_summary(self) -> Option<LogSummary> {
        LogSummary::from_vec(self.finish(0))
    }
}

impl Acc {
    fn push(&mut self, c: SecondCount) {
        match self.seconds.last_mut() {
            Some(last) if last.second == c.second => {
                last.entries += c.entries;
                last.bytes += c.bytes;
                last.edge_entries += c.edge_entries;
                last.edge_bytes += c.edge_bytes;
            }
            Some(last) => {
                self.sorted &= last.second < c.second;
                self.seconds.push(c);
            }
            None => self.seconds.push(c),
        }
    }

    /// Sorts the seconds and merges repeats.
    fn settle(&mut self) {
        if self.sorted {
            return;
        }
        self.seconds.sort_by_key(|s| s.second);
        let mut out: Vec<SecondCount> = Vec::with_capacity(self.seconds.len());
        for s in self.seconds.drain(..) {
            match out.last_mut() {
                Some(last) if last.second == s.second => {
                    last.entries += s.entries;
                    last.bytes += s.bytes;
                    last.edge_entries += s.edge_entries;
                    last.edge_bytes += s.edge_bytes;
                }
                _ => out.push(s),
            }
        }
        self.seconds = out;
        self.sorted = true;
    }
}

/// A map row's pairs as `&str` (null values as empty).
fn map_pairs<'a>(m: &'a MapArray, i: usize, path: &Path) -> Result<Vec<(&'a str, &'a str)>> {
    let offsets = m.value_offsets();
    let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
    let keys = m
        .keys()
        .as_string_opt::<i32>()
        .ok_or_else(|| bad(path, "map keys are not strings"))?;
    let values = m
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| bad(path, "map values are not strings"))?;
    Ok((start..end)
        .map(|j| {
            let v = if values.is_valid(j) {
                values.value(j)
            } else {
                ""
            };
            (keys.value(j), v)
        })
        .collect())
}

/// Writes the summary of the logs file at `path` from the records written to it.
pub(crate) fn write_for(path: &Path, rows: &[&LogRecord]) -> Result<u64> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let meta = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(&File::open(path).map_err(io)?)
        .map_err(|e| bad(path, e))?;
    let mut b = Builder {
        lines: Some(LineFilterBuilder::new(planned_blocks(&meta))),
        ..Builder::default()
    };
    b.add_records(rows);
    finish_into(path, b)
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

/// Writes the summary of the logs file at `path`: its counts merged from `inputs` when
/// given (the summaries of the files compacted into it), else read from its columns; its
/// line filter from its `body` column.
pub(crate) fn build_from_file(path: &Path, inputs: Option<&[&LogSummary]>) -> Result<u64> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .map_err(|e| bad(path, e))?;
    let mut b = Builder {
        lines: Some(LineFilterBuilder::new(planned_blocks(builder.metadata()))),
        ..Builder::default()
    };
    let names: &[&str] = match inputs {
        Some(inputs) => {
            for s in inputs {
                b.add_summary(s);
            }
            &["body"]
        }
        None => &[
            "time",
            "severity_number",
            "severity_text",
            "body",
            "service_name",
            "resource_attributes",
            "attributes",
        ],
    };
    let schema = builder.schema().clone();
    let roots: Vec<usize> = names
        .iter()
        .map(|n| schema.index_of(n).map_err(|e| bad(path, e)))
        .collect::<Result<_>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| bad(path, e))?;
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        if inputs.is_some() {
            b.add_lines(&batch, path)?;
        } else {
            b.add_batch(&batch, path)?;
        }
    }
    finish_into(path, b)
}

/// The line-filter blocks of the logs file whose footer is `meta`: its `body` pages, by
/// its offset index (cut every `BLOCK_ROWS` records); empty, for blocks of `BLOCK_ROWS`,
/// when it has no offset index.
fn planned_blocks(meta: &ParquetMetaData) -> Vec<u32> {
    let descr = meta.file_metadata().schema_descr();
    let Some(column) =
        (0..descr.num_columns()).find(|&i| descr.column(i).path().parts() == ["body"])
    else {
        return Vec::new();
    };
    let Some(index) = meta.offset_index() else {
        return Vec::new();
    };
    let mut pages = Vec::new();
    for (g, group) in meta.row_groups().iter().enumerate() {
        let Some(chunk) = index.get(g).and_then(|c| c.get(column)) else {
            return Vec::new();
        };
        let locations = chunk.page_locations();
        let rows = group.num_rows().max(0) as u64;
        for (p, page) in locations.iter().enumerate() {
            let first = page.first_row_index.max(0) as u64;
            let end = locations
                .get(p + 1)
                .map_or(rows, |next| next.first_row_index.max(0) as u64);
            pages.push(end.saturating_sub(first));
        }
    }
    blocks_of_pages(pages)
}
