//! The sources of `strata import`: what each part of an import is (a body for Strata's
//! import API, with its counts), and the final comparison of counts.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Read, Seek};
use std::path::PathBuf;

use prost::Message as _;
use strata_engine::MatchOp;

use super::ImportArgs;
use super::checkpoint::Checkpoint;
use crate::api::remote_read::proto;
use crate::error::{Error, Result};
use crate::ingest::exposition::{self, Format};

/// Decoded bytes of a file read per part.
const FILE_PART: usize = 4 << 20;
/// Stale NaN: not imported (a JSON line cannot tell it from a NaN).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// What a source gave so far.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) samples: u64,
    pub(super) series: HashSet<u64>,
    pub(super) names: HashSet<String>,
    pub(super) min_ts: i64,
    pub(super) max_ts: i64,
    /// OTLP lines of a file, by signal ([`OTLP_SIGNALS`]): data points, spans and log
    /// records the file held, and those Strata refused (`partial_success`).
    pub(super) otlp_sent: [u64; 3],
    pub(super) otlp_refused: [u64; 3],
    /// Native histograms (samples, or chunks of them) a remote read gave and the import
    /// could not take: named at the end, and the import fails.
    pub(super) histograms_skipped: u64,
}

/// The signals of OTLP lines, as [`Counts::otlp_sent`] indexes them: what each counts, and
/// the `partialSuccess` field that says how many were refused.
pub(super) const OTLP_SIGNALS: [(&str, &str); 3] = [
    ("metric data points", "rejectedDataPoints"),
    ("spans", "rejectedSpans"),
    ("log records", "rejectedLogRecords"),
];

impl Counts {
    pub(super) fn add(&mut self, o: &Counts) {
        for i in 0..3 {
            self.otlp_sent[i] += o.otlp_sent[i];
            self.otlp_refused[i] += o.otlp_refused[i];
        }
        self.histograms_skipped += o.histograms_skipped;
        if o.samples > 0 {
            self.min_ts = if self.samples == 0 {
                o.min_ts
            } else {
                self.min_ts.min(o.min_ts)
            };
            self.max_ts = self.max_ts.max(o.max_ts);
        }
        self.samples += o.samples;
        self.series.extend(&o.series);
        self.names.extend(o.names.iter().cloned());
    }

    fn sample(&mut self, ts: i64) {
        self.min_ts = if self.samples == 0 {
            ts
        } else {
            self.min_ts.min(ts)
        };
        self.max_ts = self.max_ts.max(ts);
        self.samples += 1;
    }
}

/// One part of an import: a body for Strata and what it holds.
pub(super) struct Part {
    /// An OTLP line's signal ([`OTLP_SIGNALS`]): Strata's answer says what it refused.
    pub(super) otlp: Option<usize>,
    pub(super) path: &'static str,
    pub(super) content_type: &'static str,
    pub(super) body: axum::body::Bytes,
    pub(super) counts: Counts,
    /// A file source's offset after this part.
    pub(super) resume: Option<u64>,
}

/// Where the history comes from.
pub(super) enum Source {
    Vm(Remote),
    Prometheus(Remote),
    File {
        path: PathBuf,
        om: bool,
        /// Where the next part starts.
        pos: std::sync::Mutex<u64>,
    },
}

/// A remote source: its URL, selectors and slices.
pub(super) struct Remote {
    pub(super) url: String,
    pub(super) matches: Vec<String>,
    pub(super) start: i64,
    pub(super) end: i64,
    step: i64,
}

impl Source {
    pub(super) fn from_args(a: &ImportArgs) -> Result<Self> {
        let remote = |url: &str| -> Result<Remote> {
            let time = |name: &str, v: &Option<String>, default: i64| -> Result<i64> {
                match v {
                    None => Ok(default),
                    Some(t) => {
                        let pairs = vec![(name.to_owned(), t.clone())];
                        strata_query::prom_api::time_window(&pairs)
                            .map(|(s, e)| if name == "start" { s } else { e })
                            .map_err(|e| Error::Usage(format!("--{name}: {e}")))
                    }
                }
            };
            // A minute back by default: VictoriaMetrics hides its newest 30 s from queries
            // (`-search.latencyOffset`), which the final comparison would count as missing.
            let end = time("end", &a.end, crate::scrape::run::now_ms() - 60_000)?;
            let start = time("start", &a.start, end - 30 * 86_400_000)?;
            let step = crate::rules::file::parse_duration(&a.step)
                .map_err(|e| Error::Usage(format!("--step: {e}")))?
                .as_millis() as i64;
            if step <= 0 || start >= end {
                return Err(Error::Usage(
                    "--step must be positive and --start before --end".into(),
                ));
            }
            strata_query::prom_api::series_selectors(&a.matches)
                .map_err(|e| Error::Usage(format!("--match: {e}")))?;
            Ok(Remote {
                url: url.trim_end_matches('/').to_owned(),
                matches: a.matches.clone(),
                start,
                end,
                step,
            })
        };
        match (&a.from_vm, &a.from_prometheus, &a.from_file) {
            (Some(u), None, None) => Ok(Self::Vm(remote(u)?)),
            (None, Some(u), None) => Ok(Self::Prometheus(remote(u)?)),
            (None, None, Some(p)) => Ok(Self::File {
                path: p.clone(),
                om: is_openmetrics(p)?,
                pos: std::sync::Mutex::new(0),
            }),
            _ => Err(Error::Usage(
                "give one of --from-vm, --from-prometheus and --from-file".into(),
            )),
        }
    }

    /// What identifies this import in the checkpoint.
    pub(super) fn id(&self) -> String {
        match self {
            Self::Vm(r) | Self::Prometheus(r) => format!(
                "{} {} {:?} {} {} {}",
                if matches!(self, Self::Vm(_)) {
                    "vm"
                } else {
                    "prometheus"
                },
                r.url,
                r.matches,
                r.start,
                r.end,
                r.step
            ),
            Self::File { path, .. } => format!("file {}", path.display()),
        }
    }

    /// How many parts there are, when known.
    pub(super) fn units(&self) -> Option<usize> {
        match self {
            Self::Vm(r) | Self::Prometheus(r) => {
                Some(((r.end - r.start + r.step - 1) / r.step) as usize)
            }
            Self::File { .. } => None,
        }
    }

    /// Part `unit` (`None` after the last); a part the checkpoint has done comes back
    /// without a body (a file's is read again for its counts).
    pub(super) async fn next(&self, unit: usize, cp: &mut Checkpoint) -> Result<Option<Part>> {
        match self {
            Self::Vm(r) | Self::Prometheus(r) => {
                let from = r.start + unit as i64 * r.step;
                if from >= r.end {
                    return Ok(None);
                }
                let to = (from + r.step).min(r.end);
                if cp.is_done(unit) {
                    return Ok(Some(empty(None)));
                }
                let (body, skipped) = match self {
                    Self::Vm(_) => (vm_export(r, from, to).await?, 0),
                    _ => remote_read(r, from, to).await?,
                };
                let mut counts = count_json_lines(&body);
                counts.histograms_skipped = skipped;
                Ok(Some(Part {
                    otlp: None,
                    path: "/api/v1/import",
                    content_type: "application/json",
                    body: body.into(),
                    counts,
                    resume: None,
                }))
            }
            Self::File { path, om, pos } => {
                let mut pos = pos.lock().unwrap_or_else(|p| p.into_inner());
                let part = file_part(path, *om, *pos, cp)?;
                if let Some(p) = &part {
                    *pos = p.resume.unwrap_or(*pos);
                }
                let _ = unit;
                Ok(part)
            }
        }
    }
}

fn empty(resume: Option<u64>) -> Part {
    Part {
        otlp: None,
        path: "/api/v1/import",
        content_type: "application/json",
        body: axum::body::Bytes::new(),
        counts: Counts::default(),
        resume,
    }
}

async fn vm_export(r: &Remote, from: i64, to: i64) -> Result<Vec<u8>> {
    let url = format!("{}/api/v1/export", r.url);
    let mut form: Vec<(String, String)> = r
        .matches
        .iter()
        .map(|m| ("match[]".to_owned(), m.clone()))
        .collect();
    // VictoriaMetrics's range is inclusive: the slice is [from, to).
    form.push(("start".into(), format!("{:.3}", from as f64 / 1000.0)));
    form.push(("end".into(), format!("{:.3}", (to - 1) as f64 / 1000.0)));
    let resp = super::http()
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(|e| Error::Server(format!("POST {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::Server(format!("POST {url}: {}", resp.status())));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Error::Server(format!("POST {url}: {e}")))
}

/// A slice by remote read, as JSON lines, and the native histograms (samples or chunks)
/// it held that cannot be imported.
async fn remote_read(r: &Remote, from: i64, to: i64) -> Result<(Vec<u8>, u64)> {
    let sets = strata_query::prom_api::series_selectors(&r.matches)
        .map_err(|e| Error::Usage(format!("--match: {e}")))?;
    let queries = sets
        .iter()
        .map(|set| proto::Query {
            start_timestamp_ms: from,
            end_timestamp_ms: to - 1,
            matchers: set
                .iter()
                .map(|m| proto::LabelMatcher {
                    r#type: match m.op() {
                        MatchOp::Equal => 0,
                        MatchOp::NotEqual => 1,
                        MatchOp::Regex => 2,
                        MatchOp::NotRegex => 3,
                    },
                    name: m.name().to_owned(),
                    value: m.value().to_owned(),
                })
                .collect(),
        })
        .collect();
    // Chunks first (smaller, and Prometheus encodes them as it stores them); samples from
    // a server that does not stream.
    let req = proto::ReadRequest {
        queries,
        accepted_response_types: vec![1, 0],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .map_err(|e| Error::Server(format!("snappy: {e}")))?;
    let url = format!("{}/api/v1/read", r.url);
    let resp = super::http()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-read-version", "0.1.0")
        .body(body)
        .send()
        .await
        .map_err(|e| Error::Server(format!("POST {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::Server(format!("POST {url}: {}", resp.status())));
    }
    let streamed = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-streamed-protobuf"));
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| Error::Server(format!("POST {url}: {e}")))?;
    let bad = |e: String| Error::Server(format!("{url}: {e}"));
    let (series, skipped) = if streamed {
        read_chunks(&bytes, from, to).map_err(bad)?
    } else {
        read_samples(&bytes).map_err(bad)?
    };
    let mut out = String::new();
    for (labels, samples) in series {
        json_line(&mut out, &labels, &samples);
    }
    Ok((out.into_bytes(), skipped))
}

/// A remote read's series: labels and samples (staleness markers left out), each series
/// once however many selectors chose it.
type ReadSeries = Vec<(Vec<(String, String)>, Vec<(i64, f64)>)>;

/// A `SAMPLES` answer: one snappy `ReadResponse`; its native histogram samples counted.
fn read_samples(body: &[u8]) -> std::result::Result<(ReadSeries, u64), String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    let answer = proto::ReadResponse::decode(raw.as_slice())
        .map_err(|e| format!("not a ReadResponse: {e}"))?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped = 0;
    for result in answer.results {
        for ts in result.timeseries {
            skipped += ts.histograms.len() as u64;
            let labels: Vec<(String, String)> =
                ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
            if !seen.insert(labels.clone()) {
                continue; // two selectors chose it
            }
            let samples = ts
                .samples
                .iter()
                .filter(|s| s.value.to_bits() != STALE_NAN)
                .map(|s| (s.timestamp, s.value))
                .collect();
            out.push((labels, samples));
        }
    }
    Ok((out, skipped))
}

/// The largest frame of a streamed answer taken (Prometheus's are about 1 MiB).
const MAX_FRAME: u64 = 64 << 20;

/// A `STREAMED_XOR_CHUNKS` answer: frames of a varint length, the CRC-32C (Castagnoli) of
/// the message big-endian, and a `ChunkedReadResponse`. A series may span several frames
/// (merged) and come from several queries (kept once, from the first). Whole chunks are
/// sent, so samples outside `[from, to)` are left for the slice that holds them. Native
/// histogram chunks are counted, not read.
fn read_chunks(body: &[u8], from: i64, to: i64) -> std::result::Result<(ReadSeries, u64), String> {
    let mut skipped = 0;
    let mut rest = body;
    // Labels -> (the query that gave them, index in `out`).
    let mut index: std::collections::HashMap<Vec<(String, String)>, (i64, usize)> =
        std::collections::HashMap::new();
    let mut out: ReadSeries = Vec::new();
    while !rest.is_empty() {
        let (len, used) = uvarint(rest).ok_or("a frame's length is not a varint")?;
        if len > MAX_FRAME {
            return Err(format!(
                "a frame of {len} bytes (at most {MAX_FRAME} taken)"
            ));
        }
        let end = used + 4 + len as usize;
        let frame = rest.get(used..end).ok_or("a frame cut short")?;
        let (crc, msg) = frame.split_at(4);
        let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32c::crc32c(msg) != want {
            return Err("a frame's CRC-32C does not match".into());
        }
        rest = &rest[end..];
        let resp = proto::ChunkedReadResponse::decode(msg)
            .map_err(|e| format!("not a ChunkedReadResponse: {e}"))?;
        for series in resp.chunked_series {
            let labels: Vec<(String, String)> = series
                .labels
                .into_iter()
                .map(|l| (l.name, l.value))
                .collect();
            let at = match index.get(&labels) {
                Some(&(q, _)) if q != resp.query_index => continue, // two selectors chose it
                Some(&(_, at)) => at,
                None => {
                    out.push((labels.clone(), Vec::new()));
                    index.insert(labels, (resp.query_index, out.len() - 1));
                    out.len() - 1
                }
            };
            for chunk in series.chunks {
                match chunk.r#type {
                    1 => {}
                    // HISTOGRAM, FLOAT_HISTOGRAM.
                    2 | 3 => {
                        skipped += 1;
                        continue;
                    }
                    t => return Err(format!("a chunk of unknown encoding {t}")),
                }
                let samples = crate::api::remote_read::xor::decode(&chunk.data)?;
                out[at].1.extend(
                    samples
                        .into_iter()
                        .filter(|(t, v)| *t >= from && *t < to && v.to_bits() != STALE_NAN),
                );
            }
        }
    }
    for (_, samples) in &mut out {
        samples.sort_by_key(|s| s.0);
        samples.dedup_by_key(|s| s.0);
    }
    Ok((out, skipped))
}

/// A protobuf varint at the front of `b`, and its length.
fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A series as a JSON line of `/api/v1/import`.
fn json_line(out: &mut String, labels: &[(String, String)], samples: &[(i64, f64)]) {
    if samples.is_empty() {
        return;
    }
    let metric: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(n, v)| (n.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let values: Vec<serde_json::Value> = samples
        .iter()
        .map(|&(_, v)| match v {
            v if v.is_nan() => "NaN".into(),
            v if v == f64::INFINITY => "+Inf".into(),
            v if v == f64::NEG_INFINITY => "-Inf".into(),
            v => serde_json::json!(v),
        })
        .collect();
    let ts: Vec<i64> = samples.iter().map(|&(t, _)| t).collect();
    out.push_str(
        &serde_json::json!({ "metric": metric, "values": values, "timestamps": ts }).to_string(),
    );
    out.push('\n');
}

/// The series and samples of JSON lines (`/api/v1/import`'s format).
fn count_json_lines(body: &[u8]) -> Counts {
    let mut c = Counts::default();
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let mut h = twox_hash::XxHash64::with_seed(0);
        v["metric"].to_string().hash(&mut h);
        c.series.insert(h.finish());
        if let Some(n) = v["metric"]["__name__"].as_str() {
            c.names.insert(n.to_owned());
        }
        for t in v["timestamps"].as_array().into_iter().flatten() {
            c.sample(t.as_i64().unwrap_or(0));
        }
    }
    c
}

/// Whether the file is OpenMetrics (its last line `# EOF`).
fn is_openmetrics(path: &std::path::Path) -> Result<bool> {
    let mut f =
        std::fs::File::open(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let tail = len.min(64);
    f.seek(std::io::SeekFrom::Start(len - tail))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok(String::from_utf8_lossy(&buf).trim_end().ends_with("# EOF"))
}

/// A file's part starting at byte `start`: one OTLP JSON line, or a batch of whole lines
/// of the other formats.
fn file_part(
    path: &std::path::Path,
    om: bool,
    start: u64,
    cp: &Checkpoint,
) -> Result<Option<Part>> {
    let io = |e: std::io::Error| Error::Usage(format!("{}: {e}", path.display()));
    let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    f.seek(std::io::SeekFrom::Start(start)).map_err(io)?;
    let mut batch = Vec::new();
    let mut line = Vec::new();
    while batch.len() < FILE_PART {
        line.clear();
        if f.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        let otlp = is_otlp(&line);
        if otlp && !batch.is_empty() {
            break; // an OTLP line is a part of its own
        }
        batch.extend_from_slice(&line);
        if otlp {
            break;
        }
    }
    if batch.is_empty() {
        return Ok(None);
    }
    let end = start + batch.len() as u64;
    let first = batch.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let mut part = if is_otlp(&batch) {
        otlp_part(batch)
    } else if first == Some(b'{') {
        let counts = count_json_lines(&batch);
        Part {
            otlp: None,
            path: "/api/v1/import",
            content_type: "application/json",
            body: batch.into(),
            counts,
            resume: None,
        }
    } else {
        exposition_part(&batch, om, path)?
    };
    part.resume = Some(end);
    if end <= cp.offset() {
        part.body.clear(); // imported before the interruption; read again for its counts
    }
    Ok(Some(part))
}

/// Whether `line` is an OTLP JSON request (the Collector's file exporter).
fn is_otlp(line: &[u8]) -> bool {
    let head = &line[..line.len().min(64)];
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{')
        && [
            "\"resourceMetrics\"",
            "\"resourceSpans\"",
            "\"resourceLogs\"",
        ]
        .iter()
        .any(|k| text.contains(k))
}

/// One OTLP JSON line, posted to its signal's OTLP/HTTP path.
fn otlp_part(line: Vec<u8>) -> Part {
    let text = String::from_utf8_lossy(&line[..line.len().min(64)]).into_owned();
    let path = if text.contains("\"resourceSpans\"") {
        "/v1/traces"
    } else if text.contains("\"resourceLogs\"") {
        "/v1/logs"
    } else {
        "/v1/metrics"
    };
    let framing = crate::ingest::decoders::OtlpBody {
        content_type: "application/json",
        content_encoding: None,
    };
    let max = line.len().saturating_mul(4).max(1 << 20);
    // What the line holds, as the server's decoders count it (0 for a line they refuse:
    // Strata then refuses it whole and the import stops with its reason).
    let (signal, sent) = match path {
        "/v1/traces" => (
            1,
            crate::ingest::decoders::otlp_spans(&line, framing, max).map_or(0, |b| b.submitted),
        ),
        "/v1/logs" => (
            2,
            crate::ingest::decoders::otlp_logs(&line, framing, max).map_or(0, |b| b.submitted),
        ),
        _ => (
            0,
            crate::ingest::decoders::otlp_metrics(&line, framing, max).map_or(0, |b| b.points),
        ),
    };
    let mut counts = Counts::default();
    counts.otlp_sent[signal] = sent;
    Part {
        otlp: Some(signal),
        path,
        content_type: "application/json",
        body: line.into(),
        counts,
        resume: None,
    }
}

/// Text or OpenMetrics lines into JSON lines (OpenMetrics timestamps are seconds).
fn exposition_part(batch: &[u8], om: bool, path: &std::path::Path) -> Result<Part> {
    let mut body = batch.to_vec();
    if om {
        let text = String::from_utf8_lossy(&body)
            .replace("# EOF\n", "")
            .replace("# EOF", "");
        body = (text + "# EOF\n").into_bytes();
    }
    let parsed = exposition::parse(
        &body,
        if om {
            Format::OpenMetrics
        } else {
            Format::Text
        },
    )
    .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
    let mut out = String::new();
    let mut counts = Counts::default();
    let now = crate::scrape::run::now_ms();
    for s in parsed.samples {
        let mut labels = vec![("__name__".to_owned(), s.name.clone())];
        labels.extend(s.labels.into_iter().filter(|(_, v)| !v.is_empty()));
        let ts = s.timestamp_ms.unwrap_or(now);
        let mut h = twox_hash::XxHash64::with_seed(0);
        labels.hash(&mut h);
        counts.series.insert(h.finish());
        counts.names.insert(s.name);
        counts.sample(ts);
        json_line(&mut out, &labels, &[(ts, s.value)]);
    }
    Ok(Part {
        otlp: None,
        path: "/api/v1/import",
        content_type: "application/json",
        body: out.into_bytes().into(),
        counts,
        resume: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::remote_read::xor;

    fn frame(resp: &proto::ChunkedReadResponse) -> Vec<u8> {
        let msg = resp.encode_to_vec();
        let mut out = Vec::new();
        prost::encoding::encode_varint(msg.len() as u64, &mut out);
        out.extend_from_slice(&crc32c::crc32c(&msg).to_be_bytes());
        out.extend_from_slice(&msg);
        out
    }

    fn series(name: &str, chunks: Vec<proto::Chunk>) -> proto::ChunkedSeries {
        proto::ChunkedSeries {
            labels: vec![proto::Label {
                name: "__name__".into(),
                value: name.into(),
            }],
            chunks,
        }
    }

    fn chunk(kind: i32, samples: &[(i64, f64)]) -> proto::Chunk {
        proto::Chunk {
            min_time_ms: samples[0].0,
            max_time_ms: samples[samples.len() - 1].0,
            r#type: kind,
            data: xor::encode(samples),
        }
    }

    #[test]
    fn streamed_chunks_are_merged_trimmed_and_histograms_counted() {
        let a1: Vec<(i64, f64)> = (0..5).map(|i| (i * 10, i as f64)).collect();
        let a2: Vec<(i64, f64)> = (5..10).map(|i| (i * 10, i as f64)).collect();
        let stale = [(100, f64::from_bits(STALE_NAN))];
        let mut body = frame(&proto::ChunkedReadResponse {
            chunked_series: vec![series("a", vec![chunk(1, &a1)])],
            query_index: 0,
        });
        // The same series again in the next frame, a native histogram chunk, and the series
        // as a second selector chose it (kept once).
        body.extend(frame(&proto::ChunkedReadResponse {
            chunked_series: vec![
                series("a", vec![chunk(1, &a2), chunk(1, &stale)]),
                series("h", vec![chunk(2, &a1)]),
            ],
            query_index: 0,
        }));
        body.extend(frame(&proto::ChunkedReadResponse {
            chunked_series: vec![series("a", vec![chunk(1, &a1)])],
            query_index: 1,
        }));
        // The slice is [10, 80): whole chunks came, the rest belongs to other slices.
        let (got, skipped) = read_chunks(&body, 10, 80).expect("read");
        assert_eq!(skipped, 1);
        let a: Vec<i64> = got[0].1.iter().map(|s| s.0).collect();
        assert_eq!(a, [10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(
            got.len(),
            2,
            "the histogram series is listed, without samples"
        );
        assert!(got[1].1.is_empty());
        // A flipped bit fails the frame's CRC; a cut frame is an error.
        let mut bad = body.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(read_chunks(&bad, 0, 100).is_err());
        assert!(read_chunks(&body[..body.len() - 2], 0, 100).is_err());
    }
}
