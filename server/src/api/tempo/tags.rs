//! Tag names and values (`/api/search/tags`, `/api/v2/search/tags`,
//! `/api/search/tag/{tag}/values`, `/api/v2/search/tag/{tag}/values`), as SQL over the
//! tenant's `spans` table between `start` and `end` (default: the last hour, where Tempo
//! looks at its recent data): attribute keys of the `attributes`, `resource_attributes`
//! and `scope_attributes` maps (`instrumentation.`), of the spans' events and links, and
//! of the well-known attribute columns; values from the same places, typed by the
//! `*_types` maps as Tempo types them (`string`, `int`, `float`, `bool`); intrinsics as
//! Tempo answers them (`status` and `kind` as `keyword`s, `name`, `statusMessage`,
//! `rootServiceName`, `rootName` from their columns, `duration` with no values).
//!
//! `q`, a single TraceQL spanset filter (`{ span.http.method = "GET" && resource.a = "b" }`),
//! narrows names and values to the spans that meet it: it is compiled to the SQL condition
//! of the TraceQL engine's prefilter ([`strata_query::traceql::prefilter`]), which is exact
//! except for what SQL cannot check (trace-level intrinsics, arithmetic), where it keeps
//! more spans. A `q` that does not parse, or is not one filter (`{ a } && { b }`, a
//! pipeline), narrows nothing, as in Tempo, which then answers the whole list.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};
use strata_engine::{Clock, KnownType, SystemClock, span_attribute_column};

use super::params::{NS_PER_S, Params};
use super::{Answer, Error, bad, json_response};
use crate::auth::ReadTenant;
use crate::runtime::queries::Queries;

/// Without `start`/`end`, this far back.
const DEFAULT_WINDOW_NS: i64 = 3_600 * NS_PER_S;
/// Without `limit`, at most this many names per scope or values (Grafana sends 5,000).
const DEFAULT_LIMIT: usize = 5_000;
/// The most a `limit` may ask for.
const MAX_LIMIT: usize = 50_000;

/// Keys of the attributes the engine keeps in columns of their own.
const KNOWN_KEYS: [&str; 6] = [
    "http.request.method",
    "http.route",
    "db.system",
    "rpc.method",
    "error.type",
    "http.response.status_code",
];

/// The intrinsics Tempo lists (`pkg/search/util.go`) that TraceQL here supports, sorted.
const INTRINSICS: [&str; 8] = [
    "duration",
    "kind",
    "name",
    "rootName",
    "rootServiceName",
    "status",
    "statusMessage",
    "traceDuration",
];

/// A SQL string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The time condition of `[start, end]` (ns).
fn window(start_ns: i64, end_ns: i64) -> String {
    format!(
        "start_time >= to_timestamp_nanos({start_ns}) AND start_time <= to_timestamp_nanos({end_ns})"
    )
}

/// The common parameters of a tag request.
struct Lookup {
    start_ns: i64,
    end_ns: i64,
    limit: usize,
    /// The SQL condition of `q`, if it narrows anything.
    filter: Option<String>,
}

impl Lookup {
    /// The condition on the rows to read: the window, and `q`'s.
    fn cond(&self) -> String {
        let w = window(self.start_ns, self.end_ns);
        match &self.filter {
            Some(f) => format!("{w} AND ({f})"),
            None => w,
        }
    }
}

/// The SQL condition of a tag request's `q`, when it is one spanset filter SQL can narrow.
fn q_filter(q: &str) -> Option<String> {
    use strata_query::traceql::{self, ast};
    let query = traceql::parse(q).ok()?;
    if query.is_metrics() {
        return None;
    }
    match query.pipeline.stages.as_slice() {
        [ast::Stage::Spanset(ast::SpansetExpr::Filter(f))] => {
            let cond = traceql::prefilter::filter(f);
            (!cond.is_true()).then_some(cond.sql)
        }
        _ => None,
    }
}

fn lookup(raw: Option<&str>, queries: &Queries) -> Result<Lookup, Error> {
    let p = Params::parse(raw)?;
    let filter = match p.get("q") {
        Some(q) => {
            super::search::check_length(q, queries)?;
            q_filter(q)
        }
        None => None,
    };
    let now_ns = SystemClock.now_ms().saturating_mul(1_000_000);
    let (start_ns, end_ns) = p.range(now_ns, DEFAULT_WINDOW_NS)?;
    let limit = p.positive("limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(Lookup {
        start_ns,
        end_ns,
        limit,
        filter,
    })
}

/// Runs `sql` over the tenant's tables.
async fn run(
    queries: &Queries,
    tenant: &strata_engine::TenantId,
    sql: &str,
) -> Result<Vec<RecordBatch>, Error> {
    let engine = queries.engine()?;
    let cfg = &queries.sql().query;
    let ctx = strata_query::sql::tenant_session(engine, tenant, cfg)
        .map_err(crate::api::sql::sql_error)?;
    Ok(strata_query::sql::run_sql(&ctx, sql, cfg)
        .await
        .map_err(crate::api::sql::sql_error)?)
}

/// Column `col` of every row as text (strings as they are, integers in decimal); `None`
/// for a null.
fn texts(batches: &[RecordBatch], col: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let Some(a) = b.columns().get(col) else {
            continue;
        };
        let at = |i: usize| a.is_valid(i);
        if let Some(s) = a.as_string_opt::<i32>() {
            out.extend((0..s.len()).map(|i| at(i).then(|| s.value(i).to_owned())));
        } else if let Some(s) = a.as_string_view_opt() {
            out.extend((0..s.len()).map(|i| at(i).then(|| s.value(i).to_owned())));
        } else if let Some(s) = a.as_string_opt::<i64>() {
            out.extend((0..s.len()).map(|i| at(i).then(|| s.value(i).to_owned())));
        } else if let Some(n) = a.as_primitive_opt::<Int64Type>() {
            out.extend((0..n.len()).map(|i| at(i).then(|| n.value(i).to_string())));
        }
    }
    out
}

/// The attribute keys of one map column, sorted.
fn keys_sql(map: &str, cond: &str, limit: usize) -> String {
    format!(
        "SELECT DISTINCT k FROM (SELECT unnest(map_keys({map})) AS k FROM spans WHERE {cond}) \
         ORDER BY k LIMIT {limit}"
    )
}

/// The rows of list column `list` (`events` or `links`) of the spans meeting `cond`, one
/// per item, as a subquery with the item's `attributes` as `a`, `attribute_types` as `ty`
/// and, for events, `name` as `n`.
fn items_sql(list: &str, cond: &str) -> String {
    let name = if list == "events" {
        ", e['name'] AS n"
    } else {
        ""
    };
    format!(
        "(SELECT e['attributes'] AS a, e['attribute_types'] AS ty{name} \
         FROM (SELECT unnest({list}) AS e FROM spans WHERE {cond}))"
    )
}

/// The attribute keys of the events or links (`list`) of the spans meeting `cond`, sorted.
fn item_keys_sql(list: &str, cond: &str, limit: usize) -> String {
    format!(
        "SELECT DISTINCT k FROM (SELECT unnest(map_keys(a)) AS k FROM {}) ORDER BY k LIMIT {limit}",
        items_sql(list, cond)
    )
}

/// How many rows hold each well-known column, in [`KNOWN_KEYS`] order.
fn known_sql(cond: &str) -> String {
    let counts: Vec<String> = KNOWN_KEYS
        .iter()
        .filter_map(|k| span_attribute_column(k).map(|(col, _)| format!("count({col})")))
        .collect();
    format!("SELECT {} FROM spans WHERE {cond}", counts.join(", "))
}

/// The attribute names of the window, per scope.
#[derive(Default)]
struct Names {
    span: Vec<String>,
    resource: Vec<String>,
    event: Vec<String>,
    link: Vec<String>,
    instrumentation: Vec<String>,
}

/// Where the attribute names of a scope are.
enum Keys {
    /// The keys of a map column of `spans`.
    Map(&'static str),
    /// The keys of the attribute maps of a list column's items (`events`, `links`).
    Items(&'static str),
}

/// The attribute names of the window in the scopes `want` asks for.
async fn attribute_names(
    queries: &Queries,
    tenant: &strata_engine::TenantId,
    l: &Lookup,
    want: Scopes,
) -> Result<Names, Error> {
    let cond = l.cond();
    let mut names = Names::default();
    if want.span {
        let batches = run(queries, tenant, &known_sql(&cond)).await?;
        for (i, key) in KNOWN_KEYS.iter().enumerate() {
            let n = texts(&batches, i).into_iter().flatten().next();
            if n.is_some_and(|n| n != "0") {
                names.span.push((*key).to_owned());
            }
        }
        let keys = run(queries, tenant, &keys_sql("attributes", &cond, l.limit)).await?;
        names.span.extend(texts(&keys, 0).into_iter().flatten());
        names.span.sort();
        names.span.dedup();
        names.span.truncate(l.limit);
    }
    let lists = [
        (
            want.resource,
            &mut names.resource,
            Keys::Map("resource_attributes"),
        ),
        (want.event, &mut names.event, Keys::Items("events")),
        (want.link, &mut names.link, Keys::Items("links")),
        (
            want.instrumentation,
            &mut names.instrumentation,
            Keys::Map("scope_attributes"),
        ),
    ];
    for (wanted, out, keys) in lists {
        if !wanted {
            continue;
        }
        let sql = match keys {
            Keys::Map(map) => keys_sql(map, &cond, l.limit),
            Keys::Items(list) => item_keys_sql(list, &cond, l.limit),
        };
        out.extend(
            texts(&run(queries, tenant, &sql).await?, 0)
                .into_iter()
                .flatten(),
        );
    }
    Ok(names)
}

/// `GET /api/search/tags`: `{"tagNames":[...]}`, span and resource attribute names (with
/// `scope=intrinsic`, the intrinsics; with `scope=event`, `link` or `instrumentation`,
/// those attributes).
pub(crate) async fn names_v1(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let l = lookup(raw.as_deref(), &queries)?;
    let scope = Params::parse(raw.as_deref())?
        .get("scope")
        .map(str::to_owned);
    let mut want = scopes(scope.as_deref())?;
    if scope.is_none() {
        // Tempo's v1 list without a scope: span and resource attributes.
        (want.event, want.link, want.instrumentation) = (false, false, false);
    }
    let n = attribute_names(&queries, &tenant, &l, want).await?;
    let mut names: Vec<String> = [n.span, n.resource, n.event, n.link, n.instrumentation].concat();
    if want.intrinsic && scope.is_some() {
        names.extend(INTRINSICS.iter().map(|s| (*s).to_owned()));
    }
    names.sort();
    names.dedup();
    names.truncate(l.limit);
    Ok(json_response(&json!({ "tagNames": names, "metrics": {} })))
}

/// Which scopes a `scope` asks for (none, or `all`: every one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scopes {
    span: bool,
    resource: bool,
    intrinsic: bool,
    event: bool,
    link: bool,
    /// The attributes of the spans' instrumentation scopes.
    instrumentation: bool,
}

/// The scopes a `scope` parameter asks for.
fn scopes(scope: Option<&str>) -> Result<Scopes, Error> {
    let only = |name: &str| Scopes {
        span: name == "span",
        resource: name == "resource",
        intrinsic: name == "intrinsic",
        event: name == "event",
        link: name == "link",
        instrumentation: name == "instrumentation",
    };
    Ok(match scope {
        None | Some("all") => Scopes {
            span: true,
            resource: true,
            intrinsic: true,
            event: true,
            link: true,
            instrumentation: true,
        },
        Some(name @ ("span" | "resource" | "intrinsic" | "event" | "link" | "instrumentation")) => {
            only(name)
        }
        Some(other) => {
            return Err(bad(format!(
                "invalid scope {other:?}: use resource, span, intrinsic, event, link, instrumentation or none"
            )));
        }
    })
}

/// `GET /api/v2/search/tags`: `{"scopes":[{"name":"resource","tags":[...]}, ...]}`.
pub(crate) async fn names_v2(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let l = lookup(raw.as_deref(), &queries)?;
    let scope = Params::parse(raw.as_deref())?
        .get("scope")
        .map(str::to_owned);
    let want = scopes(scope.as_deref())?;
    let n = attribute_names(&queries, &tenant, &l, want).await?;
    let mut out = Vec::new();
    for (wanted, name, tags) in [
        (want.resource, "resource", n.resource),
        (want.span, "span", n.span),
        (want.event, "event", n.event),
        (want.link, "link", n.link),
        (want.instrumentation, "instrumentation", n.instrumentation),
    ] {
        // Unscoped, event, link and instrumentation are listed only where spans have such
        // attributes.
        if wanted && (scope.is_some() || !tags.is_empty() || matches!(name, "resource" | "span")) {
            out.push(json!({"name": name, "tags": tags}));
        }
    }
    if want.intrinsic {
        out.push(json!({"name": "intrinsic", "tags": INTRINSICS}));
    }
    Ok(json_response(&json!({ "scopes": out, "metrics": {} })))
}

/// Where the values of a tag come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A span attribute.
    Span(String),
    /// A resource attribute.
    Resource(String),
    /// Either (an unscoped `.key`, or a v1 tag).
    Any(String),
    /// An attribute of the spans' events (`events`) or links (`links`).
    Item(&'static str, String),
    /// An attribute of the spans' instrumentation scopes.
    Instrumentation(String),
    /// The names of the spans' events (`event:name`).
    EventName,
    /// A fixed list (`status`, `kind`, `duration`).
    Fixed(&'static str, &'static [&'static str]),
    /// A column, with a condition (`name`, `rootServiceName`, ...).
    Column(&'static str, &'static str),
}

const STATUSES: &[&str] = &["ok", "error", "unset"];
const KINDS: &[&str] = &[
    "client",
    "server",
    "producer",
    "consumer",
    "internal",
    "unspecified",
];

/// The source of a v2 tag (`resource.service.name`, `span.http.route`, `.http.route`,
/// `name`, `span:status`, ...).
fn source_v2(tag: &str) -> Result<Source, Error> {
    if let Some(k) = tag.strip_prefix("resource.") {
        return Ok(Source::Resource(k.to_owned()));
    }
    if let Some(k) = tag.strip_prefix("span.") {
        return Ok(Source::Span(k.to_owned()));
    }
    if let Some(k) = tag.strip_prefix('.') {
        return Ok(Source::Any(k.to_owned()));
    }
    if let Some(k) = tag.strip_prefix("event.") {
        return Ok(Source::Item("events", k.to_owned()));
    }
    if let Some(k) = tag.strip_prefix("link.") {
        return Ok(Source::Item("links", k.to_owned()));
    }
    if let Some(k) = tag.strip_prefix("instrumentation.") {
        return Ok(Source::Instrumentation(k.to_owned()));
    }
    Ok(match tag {
        "status" | "span:status" => Source::Fixed("keyword", STATUSES),
        "kind" | "span:kind" => Source::Fixed("keyword", KINDS),
        "duration" | "span:duration" | "traceDuration" | "trace:duration" => {
            Source::Fixed("duration", &[])
        }
        "name" | "span:name" => Source::Column("name", "true"),
        "event:name" => Source::EventName,
        "statusMessage" | "span:statusMessage" => {
            Source::Column("status_message", "status_message <> ''")
        }
        "rootServiceName" | "trace:rootService" => {
            Source::Column("service_name", "parent_span_id IS NULL")
        }
        "rootName" | "trace:rootName" => Source::Column("name", "parent_span_id IS NULL"),
        other => {
            return Err(bad(format!(
                "unsupported tag {other:?}: use resource.<key>, span.<key>, event.<key>, link.<key>, instrumentation.<key>, .<key> or an intrinsic"
            )));
        }
    })
}

/// The source of a v1 tag: an attribute of either scope, or Tempo's virtual tags.
fn source_v1(tag: &str) -> Source {
    match tag {
        "status.code" => Source::Fixed("string", &["unset", "ok", "error"]),
        "error" => Source::Fixed("string", &["true"]),
        "name" => Source::Column("name", "true"),
        other => Source::Any(other.to_owned()),
    }
}

/// The SQL of the values of attribute `key` in map `map` (types in `types`) of the rows
/// of `from` meeting `cond`.
fn map_values_sql(
    (from, map, types): (&str, &str, &str),
    key: &str,
    cond: &str,
    limit: usize,
) -> String {
    let k = quote(key);
    format!(
        "SELECT DISTINCT {map}[{k}] AS v, {types}[{k}] AS t FROM {from} \
         WHERE {cond} AND {map}[{k}] IS NOT NULL ORDER BY v LIMIT {limit}"
    )
}

/// Tempo's type name of a stored type name (absent: a string); `None` for types Tempo
/// does not list values of (bytes, arrays, maps).
fn tempo_type(stored: Option<&str>) -> Option<&'static str> {
    match stored {
        None | Some("") | Some("string") => Some("string"),
        Some("int") => Some("int"),
        Some("double") => Some("float"),
        Some("bool") => Some("bool"),
        Some(_) => None,
    }
}

/// The first column of `sql`'s answer, as string values.
async fn strings(
    queries: &Queries,
    tenant: &strata_engine::TenantId,
    sql: &str,
) -> Result<Vec<(&'static str, String)>, Error> {
    let b = run(queries, tenant, sql).await?;
    Ok(texts(&b, 0)
        .into_iter()
        .flatten()
        .map(|v| ("string", v))
        .collect())
}

/// The typed values of `source`, sorted by value, at most `limit`.
async fn values(
    queries: &Queries,
    tenant: &strata_engine::TenantId,
    l: &Lookup,
    source: &Source,
) -> Result<Vec<(&'static str, String)>, Error> {
    let cond = l.cond();
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let (span_key, resource_key) = match source {
        Source::Fixed(t, list) => return Ok(list.iter().map(|v| (*t, (*v).to_owned())).collect()),
        Source::Column(col, extra) => {
            let sql = format!(
                "SELECT DISTINCT {col} FROM spans WHERE {cond} AND {extra} ORDER BY {col} LIMIT {}",
                l.limit
            );
            return strings(queries, tenant, &sql).await;
        }
        Source::EventName => {
            let sql = format!(
                "SELECT DISTINCT n FROM {} ORDER BY n LIMIT {}",
                items_sql("events", &cond),
                l.limit
            );
            return strings(queries, tenant, &sql).await;
        }
        Source::Item(list, k) => {
            let sql = map_values_sql((&items_sql(list, &cond), "a", "ty"), k, "true", l.limit);
            return Ok(typed(&run(queries, tenant, &sql).await?));
        }
        Source::Instrumentation(k) => {
            let from = ("spans", "scope_attributes", "scope_attribute_types");
            let sql = map_values_sql(from, k, &cond, l.limit);
            return Ok(typed(&run(queries, tenant, &sql).await?));
        }
        Source::Span(k) => (Some(k), None),
        Source::Resource(k) => (None, Some(k)),
        Source::Any(k) => (Some(k), Some(k)),
    };
    if let Some(k) = span_key {
        if let Some((col, kind)) = span_attribute_column(k) {
            let sql = format!(
                "SELECT DISTINCT {col} FROM spans WHERE {cond} AND {col} IS NOT NULL ORDER BY {col} LIMIT {}",
                l.limit
            );
            let t = match kind {
                KnownType::String => "string",
                KnownType::Int => "int",
            };
            let b = run(queries, tenant, &sql).await?;
            out.extend(texts(&b, 0).into_iter().flatten().map(|v| (t, v)));
        }
        let sql = map_values_sql(
            ("spans", "attributes", "attribute_types"),
            k,
            &cond,
            l.limit,
        );
        out.extend(typed(&run(queries, tenant, &sql).await?));
    }
    if let Some(k) = resource_key {
        let sql = map_values_sql(
            ("spans", "resource_attributes", "resource_attribute_types"),
            k,
            &cond,
            l.limit,
        );
        out.extend(typed(&run(queries, tenant, &sql).await?));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
    out.dedup();
    out.truncate(l.limit);
    Ok(out)
}

/// (Tempo type, value) of the rows of a [`map_values_sql`] answer.
fn typed(batches: &[RecordBatch]) -> Vec<(&'static str, String)> {
    texts(batches, 0)
        .into_iter()
        .zip(texts(batches, 1))
        .filter_map(|(v, t)| Some((tempo_type(t.as_deref())?, v?)))
        .collect()
}

/// `GET /api/search/tag/{tag}/values`: `{"tagValues":["a","b"]}`.
pub(crate) async fn values_v1(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(tag): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let l = lookup(raw.as_deref(), &queries)?;
    let found = values(&queries, &tenant, &l, &source_v1(&tag)).await?;
    let mut list: Vec<String> = found.into_iter().map(|(_, v)| v).collect();
    list.dedup();
    Ok(json_response(&json!({ "tagValues": list, "metrics": {} })))
}

/// `GET /api/v2/search/tag/{tag}/values`: `{"tagValues":[{"type":"string","value":"a"}]}`.
pub(crate) async fn values_v2(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(tag): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let l = lookup(raw.as_deref(), &queries)?;
    let found = values(&queries, &tenant, &l, &source_v2(&tag)?).await?;
    let list: Vec<Value> = found
        .into_iter()
        .map(|(t, v)| json!({"type": t, "value": v}))
        .collect();
    Ok(json_response(&json!({ "tagValues": list, "metrics": {} })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_tags_name_their_source() {
        assert_eq!(
            source_v2("resource.service.name").ok(),
            Some(Source::Resource("service.name".into()))
        );
        assert_eq!(
            source_v2("span.http.route").ok(),
            Some(Source::Span("http.route".into()))
        );
        assert_eq!(source_v2(".a.b").ok(), Some(Source::Any("a.b".into())));
        assert_eq!(
            source_v2("instrumentation.team").ok(),
            Some(Source::Instrumentation("team".into()))
        );
        assert_eq!(
            source_v2("status").ok(),
            Some(Source::Fixed("keyword", STATUSES))
        );
        assert!(source_v2("bogus").is_err());
        assert_eq!(
            source_v1("service.name"),
            Source::Any("service.name".into())
        );
    }

    #[test]
    fn sql_quotes_keys_and_types_values() {
        let q = map_values_sql(("spans", "attributes", "attribute_types"), "o'k", "true", 5);
        assert!(q.contains("attributes['o''k'] AS v"), "{q}");
        assert!(q.ends_with("LIMIT 5"), "{q}");
        assert_eq!(tempo_type(None), Some("string"));
        assert_eq!(tempo_type(Some("double")), Some("float"));
        assert_eq!(tempo_type(Some("array")), None);
        assert!(known_sql("true").contains("count(http_response_status_code)"));
    }

    #[test]
    fn q_narrows_only_as_one_filter() {
        let f = q_filter(r#"{ resource.service.name = "shop" }"#).expect("a filter");
        assert!(f.contains("'shop'"), "{f}");
        assert_eq!(q_filter("{ }"), None);
        assert_eq!(q_filter(r#"{ resource.cluster = }"#), None, "incomplete");
        assert_eq!(q_filter(r#"{ .a = "x" } && { .b = "y" }"#), None);
        assert_eq!(q_filter("{ } | rate()"), None);
    }
}
