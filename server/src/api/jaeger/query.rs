//! The Jaeger API's lookups as SQL over the tenant's `spans` table (so they get the SQL
//! layer's partition pruning by time, Parquet statistics and page index; spans files are
//! sorted by trace id and start time), and whole traces through the engine's bloom-filtered
//! [`Engine::find_trace`](strata_engine::Engine::find_trace). A trace search runs hour
//! partition by hour partition, newest first, and stops once it has its `limit`: without
//! tags through the engine's own scan ([`search_scan`]), with tags as SQL ([`search`]).

use std::collections::HashSet;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int32Type;
use datafusion::prelude::SessionContext;
use strata_engine::{Engine, KnownType, SpanSearch, TenantId, span_attribute_column};
use strata_query::sql::{self, SqlConfig};

use super::model::SCOPE_ATTRIBUTE_TAG;

/// A trace search (`/api/traces`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Search {
    pub(crate) service: String,
    pub(crate) operation: Option<String>,
    /// `key = value` conditions, all of which one span must meet.
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    pub(crate) min_duration_ns: Option<i64>,
    pub(crate) max_duration_ns: Option<i64>,
    pub(crate) limit: usize,
}

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ts(ns: i64) -> String {
    format!("to_timestamp_nanos({ns})")
}

/// The condition for one Jaeger tag: the tags Jaeger derives from OTLP fields map back to
/// those fields (`otel.scope.attributes.<key>`: the scope's attribute); any other key matches a span attribute or a resource attribute (their text
/// forms: `true`, `42`, `1.5` as Jaeger's UI writes them). A well-known attribute is
/// matched in its own column too, where it is stored when of the column's type.
fn tag_condition(key: &str, value: &str) -> String {
    match key {
        "error" => match value {
            "true" => "status_code = 2".into(),
            _ => "status_code <> 2".into(),
        },
        "span.kind" => match super::model::span_kind_number(value) {
            Some(k) => format!("kind = {k}"),
            None => "false".into(),
        },
        "otel.status_code" => match value {
            "OK" => "status_code = 1".into(),
            "ERROR" => "status_code = 2".into(),
            _ => "false".into(),
        },
        "otel.status_description" => format!("status_message = {}", quote(value)),
        "otel.scope.name" => format!("scope_name = {}", quote(value)),
        "otel.scope.version" => format!("scope_version = {}", quote(value)),
        _ if key.starts_with(SCOPE_ATTRIBUTE_TAG) => format!(
            "scope_attributes[{}] = {}",
            quote(&key[SCOPE_ATTRIBUTE_TAG.len()..]),
            quote(value)
        ),
        _ => {
            let maps = format!(
                "attributes[{k}] = {v} OR resource_attributes[{k}] = {v}",
                k = quote(key),
                v = quote(value)
            );
            // A well-known attribute of its column's type is in the column, not the map.
            match span_attribute_column(key) {
                Some((col, KnownType::String)) => format!("({col} = {} OR {maps})", quote(value)),
                Some((col, KnownType::Int)) => match value.parse::<i64>() {
                    Ok(n) => format!("({col} = {n} OR {maps})"),
                    Err(_) => format!("({maps})"),
                },
                None => format!("({maps})"),
            }
        }
    }
}

/// The SQL of a search: the newest `limit` traces with a span meeting every condition.
///
/// The conditions are written most selective first: the Parquet scan evaluates them in
/// this order, each on the rows the ones before it kept (durations and the operation
/// usually keep a few percent of the rows, a service an eighth, and within one hour
/// partition the time bounds keep nearly all); tags, map lookups, come last.
pub(crate) fn search_sql(s: &Search) -> String {
    let mut cond = Vec::new();
    if let Some(d) = s.min_duration_ns {
        cond.push(format!("duration_ns >= {d}"));
    }
    if let Some(d) = s.max_duration_ns {
        cond.push(format!("duration_ns <= {d}"));
    }
    if let Some(op) = &s.operation {
        cond.push(format!("name = {}", quote(op)));
    }
    cond.push(format!("service_name = {}", quote(&s.service)));
    cond.push(format!("start_time >= {}", ts(s.start_ns)));
    cond.push(format!("start_time <= {}", ts(s.end_ns)));
    cond.extend(s.tags.iter().map(|(k, v)| tag_condition(k, v)));
    format!(
        "SELECT trace_id, max(start_time) AS last FROM spans WHERE {} \
         GROUP BY trace_id ORDER BY last DESC, trace_id LIMIT {}",
        cond.join(" AND "),
        s.limit
    )
}

async fn run(ctx: &SessionContext, q: &str, cfg: &SqlConfig) -> sql::Result<Vec<RecordBatch>> {
    sql::run_sql(ctx, q, cfg).await
}

fn strings(batches: &[RecordBatch], col: usize) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let a = b.column(col);
        if let Some(a) = a.as_string_opt::<i32>() {
            out.extend(
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .map(|i| a.value(i).to_owned()),
            );
        } else if let Some(a) = a.as_string_view_opt() {
            out.extend(
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .map(|i| a.value(i).to_owned()),
            );
        }
    }
    out
}

/// Every service with spans, sorted.
pub(crate) async fn services(ctx: &SessionContext, cfg: &SqlConfig) -> sql::Result<Vec<String>> {
    let b = run(
        ctx,
        "SELECT DISTINCT service_name FROM spans ORDER BY service_name",
        cfg,
    )
    .await?;
    Ok(strings(&b, 0))
}

/// The operations of `service` with their span kind numbers, sorted; only those of `kind`
/// when given.
pub(crate) async fn operations(
    ctx: &SessionContext,
    cfg: &SqlConfig,
    service: &str,
    kind: Option<i32>,
) -> sql::Result<Vec<(String, i32)>> {
    let kind_cond = kind.map_or(String::new(), |k| format!(" AND kind = {k}"));
    let q = format!(
        "SELECT DISTINCT name, kind FROM spans WHERE service_name = {}{kind_cond} ORDER BY name, kind",
        quote(service)
    );
    let batches = run(ctx, &q, cfg).await?;
    let names = strings(&batches, 0);
    let mut kinds = Vec::with_capacity(names.len());
    for b in &batches {
        if let Some(k) = b.column(1).as_primitive_opt::<Int32Type>() {
            kinds.extend(k.values().iter().copied());
        }
    }
    Ok(names.into_iter().zip(kinds).collect())
}

/// The part of `window` (an hour partition's ns range) inside the search's range.
fn clip(window: (i64, i64), s: &Search) -> Option<(i64, i64)> {
    let (lo, hi) = (window.0.max(s.start_ns), window.1.min(s.end_ns));
    (lo <= hi).then_some((lo, hi))
}

/// The answers of a search's windows put together, newest window first: a trace found in
/// several windows keeps its first (newest) time, its maximum.
#[derive(Debug, Default)]
struct Ranking {
    found: Vec<([u8; 16], i64)>,
    seen: HashSet<[u8; 16]>,
    read: usize,
}

impl Ranking {
    /// Adds one window's ranked traces; true once `limit` distinct traces are found.
    fn add(&mut self, ranked: Vec<([u8; 16], i64)>, limit: usize) -> bool {
        self.read += 1;
        self.found
            .extend(ranked.into_iter().filter(|(id, _)| self.seen.insert(*id)));
        self.found.len() >= limit
    }

    /// The trace ids, newest first, and how many windows were read.
    fn finish(mut self, limit: usize) -> (Vec<[u8; 16]>, usize) {
        // Already in order when the windows are (newest first, disjoint); sorted to be sure.
        self.found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.found.truncate(limit);
        (
            self.found.into_iter().map(|(id, _)| id).collect(),
            self.read,
        )
    }
}

/// The trace ids a search finds, newest first: the traces with the latest matching span
/// (ties by trace id), as [`search_sql`] over the whole window ranks them.
///
/// `windows` are the hour partitions that may hold spans of the search's range, newest
/// first ([`strata_engine::Engine::spans_partitions`]). They are searched one at a time and
/// the search stops once `limit` distinct traces are found: a trace not found yet has every
/// matching span before the current window's start, so it ranks below every trace found.
///
/// Returns the ids and how many windows were read.
pub(crate) async fn search(
    ctx: &SessionContext,
    cfg: &SqlConfig,
    windows: &[(i64, i64)],
    s: &Search,
) -> sql::Result<(Vec<[u8; 16]>, usize)> {
    let mut ranking = Ranking::default();
    for &w in windows {
        let Some((start_ns, end_ns)) = clip(w, s) else {
            continue;
        };
        let window = Search {
            start_ns,
            end_ns,
            ..s.clone()
        };
        let batches = run(ctx, &search_sql(&window), cfg).await?;
        if ranking.add(sql::trace_rows(&batches), s.limit) {
            break;
        }
    }
    Ok(ranking.finish(s.limit))
}

impl Search {
    /// The search as the engine's own scan takes it ([`Engine::search_traces`]): when it
    /// has no tags (those are map lookups, left to SQL).
    pub(crate) fn span_search(&self) -> Option<SpanSearch> {
        self.tags.is_empty().then(|| SpanSearch {
            service: self.service.clone(),
            operation: self.operation.clone(),
            min_duration_ns: self.min_duration_ns,
            max_duration_ns: self.max_duration_ns,
        })
    }
}

/// [`search`] through the engine's own scan ([`Engine::search_traces`], on up to
/// `threads` threads) instead of SQL: the same answer, for a search without tags.
pub(crate) fn search_scan(
    engine: &Engine,
    tenant: &TenantId,
    windows: &[(i64, i64)],
    s: &Search,
    scan: &SpanSearch,
    threads: usize,
) -> strata_engine::Result<(Vec<[u8; 16]>, usize)> {
    let mut ranking = Ranking::default();
    for &w in windows {
        let Some((start_ns, end_ns)) = clip(w, s) else {
            continue;
        };
        let ranked = engine.search_traces(tenant, scan, start_ns, end_ns, s.limit, threads)?;
        if ranking.add(ranked, s.limit) {
            break;
        }
    }
    Ok(ranking.finish(s.limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_sql_quotes_and_maps_jaeger_tags() {
        let s = Search {
            service: "o'neil".into(),
            operation: Some("GET /".into()),
            tags: vec![
                ("error".into(), "true".into()),
                ("span.kind".into(), "client".into()),
                ("http.route".into(), "/a'b".into()),
            ],
            start_ns: 1,
            end_ns: 2,
            min_duration_ns: Some(3),
            max_duration_ns: None,
            limit: 20,
        };
        let q = search_sql(&s);
        assert!(q.contains("service_name = 'o''neil'"), "{q}");
        assert!(q.contains("name = 'GET /'"), "{q}");
        assert!(q.contains("status_code = 2"), "{q}");
        assert!(q.contains("kind = 3"), "{q}");
        assert!(
            q.contains(
                "(http_route = '/a''b' OR attributes['http.route'] = '/a''b' \
                 OR resource_attributes['http.route'] = '/a''b')"
            ),
            "{q}"
        );
        assert!(q.contains("duration_ns >= 3"), "{q}");
        assert!(!q.contains("duration_ns <="), "{q}");
        assert!(q.ends_with("LIMIT 20"), "{q}");
        let at = |part: &str| q.find(part).expect(part);
        assert!(at("duration_ns") < at("name =") && at("name =") < at("service_name"));
        assert!(
            at("service_name") < at("start_time >=") && at("start_time <=") < at("http_route =")
        );
    }

    #[test]
    fn a_well_known_tag_is_matched_in_its_column_and_in_the_maps() {
        let maps = |k: &str, v: &str| {
            format!("attributes['{k}'] = '{v}' OR resource_attributes['{k}'] = '{v}'")
        };
        let code = "http.response.status_code";
        assert_eq!(
            tag_condition(code, "404"),
            format!("(http_response_status_code = 404 OR {})", maps(code, "404"))
        );
        // Not an int: only a value sent as text can match, and that is in the map.
        assert_eq!(tag_condition(code, "4x"), format!("({})", maps(code, "4x")));
        assert_eq!(
            tag_condition("db.system", "pg"),
            format!("(db_system = 'pg' OR {})", maps("db.system", "pg"))
        );
        assert_eq!(
            tag_condition("http.url", "/x"),
            format!("({})", maps("http.url", "/x"))
        );
        // A scope attribute's tag is matched in the scope's map only.
        assert_eq!(
            tag_condition("otel.scope.attributes.o'k", "v"),
            "scope_attributes['o''k'] = 'v'"
        );
    }
}
