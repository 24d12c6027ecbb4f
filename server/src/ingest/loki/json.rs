//! Loki's JSON push body, as `python-logging-loki`, Grafana's docs and `curl` send it:
//!
//! ```json
//! {"streams":[{"stream":{"app":"shop"},
//!              "values":[["1700000000000000000","a line"],
//!                        ["1700000000000000001","another",{"trace_id":"0af7"}]]}]}
//! ```
//!
//! A timestamp is a string of nanoseconds since the Unix epoch, the optional third element
//! the entry's structured metadata (string values). The legacy shape of `/api/prom/push`
//! (`{"labels":"{app=\"shop\"}","entries":[{"ts":"<RFC 3339>","line":"..."}]}`, still sent
//! by `python-logging-loki`'s version 0 emitter) is taken too, stream by stream. Anything
//! else (a number for a timestamp, a non-string value, an entry of one element) refuses
//! the whole request with serde_json's line and column, as Loki refuses it.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::LokiError;
use super::labels::{PushEntry, PushStream, SentLabels};

/// A JSON push body's entries, counted without decoding it: the arrays and objects four
/// levels deep (an entry, in both shapes), outside strings. At least the entries the
/// decoder will build, so that a body of millions of tiny entries is refused before any is.
pub(crate) fn count_entries(body: &[u8]) -> usize {
    let (mut depth, mut count) = (0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                count += usize::from(depth == 4);
                depth += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    count
}

/// The streams of a JSON push body.
pub(crate) fn decode(body: &[u8]) -> Result<Vec<PushStream>, LokiError> {
    let req: PushJson = serde_json::from_slice(body).map_err(|e| LokiError::Json(e.to_string()))?;
    req.streams
        .into_iter()
        .map(StreamJson::into_stream)
        .collect()
}

/// The body. No `streams` is a request without streams (Loki's 422).
#[derive(Deserialize)]
struct PushJson {
    #[serde(default)]
    streams: Vec<StreamJson>,
}

/// One stream, in either shape; a missing field is empty, as in Loki (a stream without
/// labels is then rejected by the label checks, one without entries stores nothing).
#[derive(Deserialize)]
struct StreamJson {
    #[serde(default)]
    stream: Option<Pairs>,
    #[serde(default)]
    values: Vec<Entry>,
    #[serde(default)]
    labels: Option<String>,
    #[serde(default)]
    entries: Vec<LegacyEntry>,
}

impl StreamJson {
    fn into_stream(self) -> Result<PushStream, LokiError> {
        let legacy = self.labels.is_some() || !self.entries.is_empty();
        if !legacy {
            let pairs = self.stream.map_or_else(Vec::new, |p| p.0);
            let entries = self.values.into_iter().map(|e| e.0).collect();
            return Ok(PushStream {
                labels: SentLabels::Pairs(pairs),
                entries,
            });
        }
        if self.stream.is_some() || !self.values.is_empty() {
            return Err(LokiError::Json(
                "a stream mixes \"stream\"/\"values\" with the legacy \"labels\"/\"entries\""
                    .into(),
            ));
        }
        let entries = self.entries.into_iter().map(LegacyEntry::into_entry);
        Ok(PushStream {
            labels: SentLabels::Text(self.labels.unwrap_or_default()),
            entries: entries.collect::<Result<_, _>>()?,
        })
    }
}

/// An object of string values, in the order sent, repeated keys kept (the label checks
/// refuse them; structured metadata keeps the first).
struct Pairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `["<unix ns>", "<line>"]` or `["<unix ns>", "<line>", {structured metadata}]`.
struct Entry(PushEntry);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an entry [\"<unix epoch in nanoseconds>\", \"<log line>\"] with an optional \
                     third element, an object of structured metadata",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
                let ts: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let time_ns = parse_nanos(&ts).map_err(de::Error::custom)?;
                let line: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let metadata = seq.next_element::<Pairs>()?.map_or_else(Vec::new, |p| p.0);
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(Entry(PushEntry {
                    time_ns,
                    line,
                    metadata,
                }))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A timestamp string: an integer of nanoseconds since the Unix epoch.
fn parse_nanos(ts: &str) -> Result<i64, String> {
    let digits = ts.strip_prefix('-').unwrap_or(ts);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "timestamp {ts:?} is not an integer of nanoseconds since the Unix epoch"
        ));
    }
    ts.parse()
        .map_err(|_| format!("timestamp {ts:?} is out of range (nanoseconds, 64 bits)"))
}

/// A legacy entry: `{"ts": "<RFC 3339>", "line": "..."}`.
#[derive(Deserialize)]
struct LegacyEntry {
    ts: String,
    #[serde(default)]
    line: String,
}

impl LegacyEntry {
    fn into_entry(self) -> Result<PushEntry, LokiError> {
        let time_ns = chrono::DateTime::parse_from_rfc3339(&self.ts)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .ok_or_else(|| {
                LokiError::Json(format!(
                    "legacy entry timestamp {:?} is not an RFC 3339 time between 1677 and 2262",
                    self.ts
                ))
            })?;
        Ok(PushEntry {
            time_ns,
            line: self.line,
            metadata: Vec::new(),
        })
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
