//! The end of an import: the series and samples of each selector over the range, counted
//! in the source and in Strata by PromQL (per metric name: `count_over_time` drops the
//! name, so several names at once would clash), or for a file by the file's own count.

use strata_engine::MatchOp;

use super::source::{Counts, OTLP_SIGNALS, Source};
use super::{ServerArgs, http};
use crate::error::{Error, Result};

/// The comparison's lines and whether every count agreed.
pub(super) struct Compared {
    pub(super) lines: Vec<String>,
    pub(super) equal: bool,
}

/// Series and samples in the source and in Strata, compared. Counted per metric name
/// (`count_over_time` drops the name, so several names at once would clash).
pub(super) async fn compare(
    source_: &Source,
    server: &ServerArgs,
    counts: &Counts,
) -> Result<Compared> {
    let (selectors, start, end, source) = match source_ {
        Source::Vm(r) | Source::Prometheus(r) => (
            r.matches.clone(),
            r.start,
            r.end,
            Some(ServerArgs {
                url: r.url.clone(),
                token: None,
                tenant: None,
            }),
        ),
        Source::File { .. } => {
            let mut otlp = otlp_lines(counts);
            if counts.samples == 0 {
                if otlp.lines.is_empty() {
                    otlp.lines.push("the file held no samples".into());
                }
                return Ok(otlp);
            }
            (
                vec!["{__name__!=\"\"}".to_owned()],
                counts.min_ts - 1,
                counts.max_ts,
                None,
            )
        }
    };
    let Compared {
        mut lines,
        mut equal,
    } = match source {
        None => otlp_lines(counts),
        Some(_) => Compared {
            lines: Vec::new(),
            equal: true,
        },
    };
    if counts.histograms_skipped > 0 {
        equal = false;
        lines.push(format!(
            "native histograms not imported: {} (samples, or chunks of them, that remote read gave; strata import takes float samples only)",
            counts.histograms_skipped
        ));
    }
    for sel in &selectors {
        let set = strata_query::prom_api::series_selectors(std::slice::from_ref(sel))
            .map_err(|e| Error::Usage(format!("--match: {e}")))?
            .remove(0);
        let mut names: std::collections::BTreeSet<String> = match &source {
            Some(src) => label_values(src, sel, start, end).await?,
            None => counts.names.iter().cloned().collect(),
        };
        if source.is_some() {
            names.extend(label_values(server, sel, start, end).await?);
        }
        let (mut here, mut there) = ((0u64, 0u64), (0u64, 0u64));
        for name in &names {
            let one = render(&set, name);
            let range = format!("{}ms", end - start);
            let series_q = format!("count(count_over_time({one}[{range}]))");
            let samples_q = format!("sum(count_over_time({one}[{range}]))");
            here.0 += instant(server, &series_q, end).await?;
            here.1 += instant(server, &samples_q, end).await?;
            if let Some(src) = &source {
                there.0 += instant(src, &series_q, end).await?;
                there.1 += instant(src, &samples_q, end).await?;
            }
        }
        if source.is_none() {
            there = (counts.series.len() as u64, counts.samples);
        }
        let ok = here == there;
        equal &= ok;
        lines.push(format!(
            "{sel} ({} metric names): source {} series, {} samples; Strata {} series, {} samples: {}",
            names.len(),
            there.0,
            there.1,
            here.0,
            here.1,
            if ok { "equal" } else { "DIFFERENT" }
        ));
    }
    Ok(Compared { lines, equal })
}

/// A file's OTLP lines: per signal, what the file held against what Strata stored (what it
/// acknowledged: the lines' items less those its `partial_success` refused).
fn otlp_lines(counts: &Counts) -> Compared {
    let mut out = Compared {
        lines: Vec::new(),
        equal: true,
    };
    for (i, (what, _)) in OTLP_SIGNALS.iter().enumerate() {
        let (sent, refused) = (counts.otlp_sent[i], counts.otlp_refused[i]);
        if sent == 0 && refused == 0 {
            continue;
        }
        let stored = sent.saturating_sub(refused);
        out.equal &= refused == 0;
        out.lines.push(format!(
            "OTLP {what}: source {sent}; Strata stored {stored}: {}",
            if refused == 0 {
                "equal".to_owned()
            } else {
                format!("DIFFERENT ({refused} refused)")
            }
        ));
    }
    out
}

/// `set` with `__name__ = name` added, as PromQL.
fn render(set: &[strata_engine::Matcher], name: &str) -> String {
    let q = |v: &str| serde_json::Value::String(v.to_owned()).to_string();
    let mut parts = vec![format!("__name__={}", q(name))];
    for m in set {
        let op = match m.op() {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        parts.push(format!("{}{op}{}", m.name(), q(m.value())));
    }
    format!("{{{}}}", parts.join(","))
}

/// The metric names `sel` selects in `[start, end]` at `at`.
async fn label_values(
    at: &ServerArgs,
    sel: &str,
    start: i64,
    end: i64,
) -> Result<std::collections::BTreeSet<String>> {
    let url = format!(
        "{}/api/v1/label/__name__/values",
        at.url.trim_end_matches('/')
    );
    let req = http().get(&url).query(&[
        ("match[]", sel.to_owned()),
        ("start", format!("{:.3}", start as f64 / 1000.0)),
        ("end", format!("{:.3}", end as f64 / 1000.0)),
    ]);
    let v = json(at, req, &url).await?;
    Ok(v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect())
}

/// A PromQL instant query's single value at `at` (0 for an empty answer).
async fn instant(at: &ServerArgs, q: &str, t: i64) -> Result<u64> {
    let url = format!("{}/api/v1/query", at.url.trim_end_matches('/'));
    let req = http().post(&url).form(&[
        ("query", q.to_owned()),
        ("time", format!("{:.3}", t as f64 / 1000.0)),
    ]);
    let v = json(at, req, &url).await?;
    Ok(v["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(0, |f| f as u64))
}

/// `req` sent to `at` (its token and tenant added): the JSON answer, refused unless its
/// `status` is `success`.
async fn json(
    at: &ServerArgs,
    req: reqwest::RequestBuilder,
    url: &str,
) -> Result<serde_json::Value> {
    let text = at
        .authorize(req)
        .send()
        .await
        .map_err(|e| Error::Server(format!("{url}: {e}")))?
        .text()
        .await
        .map_err(|e| Error::Server(format!("{url}: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Server(format!("{url}: not JSON ({e}): {text}")))?;
    if v["status"] != "success" {
        return Err(Error::Server(format!("{url}: {v}")));
    }
    Ok(v)
}
