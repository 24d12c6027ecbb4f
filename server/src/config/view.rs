//! The configuration in force as TOML, secrets hidden (`/api/v1/status/config`).
//!
//! The file as written is the base (so every section shows, even those this view does not
//! model); the resolved values of the core keys are written over it (what the defaults,
//! the environment and the flags made of them), then one redaction pass walks the whole
//! table. The pass works by key name and value shape, not by a list of known secret keys,
//! so a key added later is hidden if it looks like a secret:
//! - a key whose name holds `secret`, `password`, `passwd`, `sha256`, `token` (not a
//!   `*_file` path), `api_key`, `access_key`, `credential` or `authorization`;
//! - every string in a `headers` table;
//! - a webhook's `url` (the path of a chat webhook is its credential): only scheme and host
//!   are kept;
//! - any other URL with a user, password or query: they are cut off.
//!
//! A hidden value reads `"<secret>"`.

use std::time::Duration;

use strata_engine::Limits;
use strata_wal::Durability;
use toml::{Table, Value};

use super::Config;

/// What a hidden value reads.
pub(crate) const SECRET: &str = "<secret>";

/// `config` as TOML, secrets hidden.
pub(crate) fn redacted_toml(config: &Config) -> String {
    let mut t = config.file.clone().unwrap_or_default();
    overlay(&mut t, config);
    redact_table(&mut t, false);
    toml::to_string(&t).unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
}

/// Writes the resolved core keys over the file's.
fn overlay(t: &mut Table, c: &Config) {
    put(t, &[], "data_dir", c.data_dir.display().to_string());
    let server = &["server"];
    put(t, server, "http_addr", c.http_addr.to_string());
    put(t, server, "grpc_addr", c.grpc_addr.to_string());
    put(t, server, "max_body_bytes", int(c.max_body_bytes));
    put(t, server, "max_inflight_bytes", int(c.max_inflight_bytes));
    let (durability, interval) = match c.engine.wal.durability {
        Durability::Fsync => ("fsync", None),
        Durability::Interval(i) => ("interval", Some(i)),
        Durability::None => ("none", None),
    };
    put(t, &["wal"], "durability", durability);
    if let Some(i) = interval {
        put(t, &["wal"], "fsync_interval", dur(i));
    }
    put(t, &["wal"], "segment_size", int(c.engine.wal.segment_size));
    let l = &c.engine.limits;
    put(t, &["retention"], "metrics", dur(l.metrics_retention));
    put(t, &["retention"], "traces", dur(l.traces_retention));
    put(t, &["retention"], "logs", dur(l.logs_retention));
    put(t, &["storage"], "cold_after", dur(l.cold_after));
    put(t, &["retention"], "downsampling", tiers(&l.downsampling));
    limits(t, &["limits"], l);
    for (tenant, l) in &c.engine.tenant_limits {
        limits(t, &["limits", "tenants", tenant], l);
    }
    let e = &c.engine;
    let engine = &["engine"];
    put(t, engine, "out_of_order_window", dur(e.out_of_order_window));
    put(t, engine, "flush_interval", dur(e.flush_interval));
    put(t, engine, "flush_head_samples", int(e.flush_head_samples));
    put(t, engine, "max_head_bytes", int(e.max_head_bytes));
    put(
        t,
        engine,
        "maintenance_interval",
        dur(e.maintenance_interval),
    );
    put(t, engine, "page_cache_bytes", int(e.page_cache_bytes));
    put(t, &["sql"], "max_result_bytes", int(c.sql.max_result_bytes));
    put(t, &["log"], "format", c.log_format.as_str());
    put(t, &["cluster"], "role", c.role.as_str());
    let tokens: Vec<Value> = c
        .tokens
        .iter()
        .map(|k| {
            let mut e = Table::new();
            e.insert("sha256".into(), Value::from(k.sha256.as_str()));
            e.insert("tenant".into(), Value::from(k.tenant.as_str()));
            let scopes: Vec<Value> = k.scopes.iter().map(|s| Value::from(s.as_str())).collect();
            e.insert("scopes".into(), Value::Array(scopes));
            e.insert("choose_tenant".into(), Value::from(k.choose_tenant));
            Value::Table(e)
        })
        .collect();
    if !tokens.is_empty() {
        put(t, &["auth"], "tokens", Value::Array(tokens));
    }
    queries(t, c);
    memory(t, c);
    rules(t, c);
    derived(t, c);
    wiring(t, c);
    put(
        t,
        &["tempo"],
        "max_traceql_length",
        int(c.tempo.max_traceql_length),
    );
    put(
        t,
        &["tempo"],
        "max_search_duration",
        dur(c.tempo.max_search_duration),
    );
    let otlp = &["otlp"];
    put(
        t,
        otlp,
        "convert_histograms_to_nhcb",
        c.otlp.convert_histograms_to_nhcb,
    );
    put(t, otlp, "delta_to_cumulative", c.otlp.delta_to_cumulative);
    let scrape = &["scrape"];
    put(t, scrape, "native_histograms", c.scrape.native_histograms);
    let default = strata_engine::TenantId::default_tenant();
    let files = c.scrape.tenants.get(&default).cloned().unwrap_or_default();
    put(t, scrape, "files", paths(&files));
}

/// `[promql]`, `[logql]` and `[sql]`: what one query may take.
fn queries(t: &mut Table, c: &Config) {
    let promql = &["promql"];
    put(
        t,
        promql,
        "delayed_name_removal",
        c.promql.delayed_name_removal,
    );
    put(t, promql, "max_samples", int(c.promql.max_samples));
    let logql = &["logql"];
    put(t, logql, "max_query_length", dur(c.logql.max_query_length));
    put(
        t,
        logql,
        "max_entries_limit_per_query",
        int(c.logql.max_entries_limit_per_query),
    );
    put(
        t,
        logql,
        "max_query_series",
        int(c.logql.limits.max_query_series),
    );
    put(
        t,
        logql,
        "max_query_bytes_read",
        int(c.logql.limits.max_query_bytes_read),
    );
    let sql = &["sql"];
    put(t, sql, "timeout", dur(c.sql.query.timeout));
    put(
        t,
        sql,
        "memory_pool_bytes",
        int(c.sql.query.memory_pool_bytes),
    );
    put(t, sql, "max_spill_bytes", int(c.sql.max_spill_bytes));
}

/// The memory plan: the limit, each budget as the plan set it, the queries at once.
fn memory(t: &mut Table, c: &Config) {
    put(t, &["server"], "memory_limit", int(c.memory.limit));
    for b in &c.memory.budgets {
        if let Some((section, key)) = b.key.split_once('.') {
            put(t, &[section], key, int(b.bytes));
        }
    }
    put(
        t,
        &["server"],
        "max_concurrent_queries",
        int(c.memory.max_concurrent_queries),
    );
    put(
        t,
        &["server"],
        "query_queue_timeout",
        dur(c.query_queue_timeout),
    );
}

/// `[cluster]`, `[server.tls]`, `[storage]` and the lists a file may leave out.
fn wiring(t: &mut Table, c: &Config) {
    let q = &c.sql.query;
    let workers: Vec<Value> = q.workers.iter().map(|w| Value::from(w.as_str())).collect();
    put(t, &["cluster"], "workers", Value::Array(workers));
    put(
        t,
        &["cluster"],
        "bytes_per_partition",
        int(q.bytes_per_partition),
    );
    if let Some(tls) = &c.tls {
        let at = &["server", "tls"];
        put(t, at, "self_signed", tls.self_signed);
        put(t, at, "cert_file", tls.cert_file.display().to_string());
        put(t, at, "key_file", tls.key_file.display().to_string());
        if let Some(ca) = &tls.client_ca_file {
            put(t, at, "client_ca_file", ca.display().to_string());
        }
    }
    let storage = &["storage"];
    match &c.engine.remote {
        Some(r) => {
            if get(t, storage, "backend").is_none() {
                put(t, storage, "backend", "s3");
            }
            put(t, storage, "prefix", r.prefix.as_str());
            put(t, storage, "delete_grace", dur(r.delete_grace));
            put(t, storage, "interval", dur(r.interval));
            if let Some(b) = r.cache_bytes {
                put(t, storage, "cache_bytes", int(b));
            }
        }
        None if c.engine.reader.is_some() => {
            if get(t, storage, "backend").is_none() {
                put(t, storage, "backend", "s3");
            }
        }
        None => put(t, storage, "backend", "local"),
    }
    ensure_array(t, &["auth"], "tokens");
    ensure(t, &["limits"], "tenants");
    ensure_array(t, &["retention"], "filters");
    for signal in ["metrics", "traces", "logs"] {
        ensure_array(t, &["relabel"], signal);
    }
    ensure(t, &["relabel"], "tenants");
    ensure(t, &["scrape"], "tenants");
}

/// The keys of the file that have no value in `config` (optional, unset, without a
/// default), as `section.key`: `strata check-config` lists them after the TOML, which
/// cannot hold an empty value.
pub(crate) fn unset_keys(t_: &str, c: &Config) -> Vec<String> {
    let t: Table = toml::from_str(t_).unwrap_or_default();
    let mut out = Vec::new();
    let mut unless = |at: &[&str], key: &str| {
        if get(&t, at, key).is_none() {
            let mut path = at.join(".");
            path.push('.');
            path.push_str(key);
            out.push(path);
        }
    };
    unless(&["limits"], "disk_budget_bytes");
    unless(&["relabel"], "hash_key_file");
    unless(&["cluster"], "token_file");
    unless(&["wal"], "fsync_interval");
    for key in ["cert_file", "key_file", "client_ca_file", "self_signed"] {
        unless(&["server", "tls"], key);
    }
    if c.engine.remote.is_some() || c.engine.reader.is_some() {
        for key in [
            "bucket",
            "endpoint",
            "region",
            "allow_http",
            "access_key_id",
            "secret_access_key",
            "request_timeout",
            "cache_bytes",
        ] {
            unless(&["storage"], key);
        }
    } else {
        for key in [
            "bucket",
            "prefix",
            "endpoint",
            "region",
            "allow_http",
            "access_key_id",
            "secret_access_key",
            "delete_grace",
            "interval",
            "request_timeout",
            "cache_bytes",
        ] {
            unless(&["storage"], key);
        }
    }
    out
}

/// `config` as `strata check-config` prints it: the effective configuration as TOML
/// (secrets hidden, as `/api/v1/status/config` shows it), then the keys without a value.
pub(crate) fn effective_text(config: &Config) -> String {
    let mut text = redacted_toml(config);
    let unset = unset_keys(&text, config);
    if !unset.is_empty() {
        text.push_str("\n# not set (no value, no default):\n");
        for k in unset {
            text.push_str(&format!("#   {k}\n"));
        }
    }
    text
}

/// `[rules]` and `[alerting]`.
fn rules(t: &mut Table, c: &Config) {
    let r = &c.rules;
    let at = &["rules"];
    put(t, at, "evaluation_interval", dur(r.evaluation_interval));
    put(t, at, "outage_tolerance", dur(r.outage_tolerance));
    put(t, at, "for_grace_period", dur(r.for_grace_period));
    let default = strata_engine::TenantId::default_tenant();
    let strings = |v: &[String]| Value::Array(v.iter().map(|s| Value::from(s.as_str())).collect());
    let own = r.tenants.get(&default);
    put(t, at, "files", strings(own.map_or(&[][..], |d| &d.files)));
    put(
        t,
        at,
        "logql_files",
        strings(own.map_or(&[][..], |d| &d.logql_files)),
    );
    for (tenant, rules) in r.tenants.iter().filter(|(id, _)| **id != default) {
        let at = &["rules", "tenants", tenant.as_str()];
        put(t, at, "files", strings(&rules.files));
        put(t, at, "logql_files", strings(&rules.logql_files));
    }
    ensure(t, &["rules"], "tenants");
    let a = &r.alerting;
    let at = &["alerting"];
    put(t, at, "resend_delay", dur(a.resend_delay));
    put(t, at, "external_url", a.external_url.as_str());
    let labels: Table = a
        .external_labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    put(t, at, "external_labels", Value::Table(labels));
    put(t, at, "queue_capacity", int(a.queue_capacity));
    put(t, at, "timeout", dur(a.timeout));
    let managers: Vec<Value> = a
        .alertmanagers
        .iter()
        .map(|u| Value::from(u.as_str()))
        .collect();
    put(t, at, "alertmanagers", Value::Array(managers));
    ensure_array(t, at, "webhooks");
}

/// `[derived]`.
fn derived(t: &mut Table, c: &Config) {
    let d = &c.derived;
    let at = &["derived"];
    put(t, at, "collection_interval", dur(d.collection_interval));
    put(t, at, "stale_duration", dur(d.stale_duration));
    put(t, at, "service_graph_wait", dur(d.service_graph_wait));
    let tenant = |t: &mut Table, at: &[&str], x: &super::derive::TenantDerived| {
        put(t, at, "enabled", x.enabled);
        let dims: Vec<Value> = x
            .dimensions
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect();
        put(t, at, "dimensions", Value::Array(dims));
        put(
            t,
            at,
            "max_span_names_per_service",
            int(x.max_span_names_per_service),
        );
        put(
            t,
            at,
            "service_graph_max_items",
            int(x.service_graph_max_items),
        );
    };
    tenant(t, at, &d.default);
    for (id, x) in &d.tenants {
        tenant(t, &["derived", "tenants", id.as_str()], x);
    }
    ensure(t, at, "tenants");
}

/// An empty table at `key` under `at` when the file and the overlay set none: a section
/// of per-tenant tables shows even without any.
fn ensure(t: &mut Table, at: &[&str], key: &str) {
    if get(t, at, key).is_none() {
        put(t, at, key, Value::Table(Table::new()));
    }
}

/// An empty array at `key` under `at` when none is set: a list of rules or targets.
fn ensure_array(t: &mut Table, at: &[&str], key: &str) {
    if get(t, at, key).is_none() {
        put(t, at, key, Value::Array(Vec::new()));
    }
}

/// The value at `key` under the table path `at`.
fn get<'t>(t: &'t Table, at: &[&str], key: &str) -> Option<&'t Value> {
    let mut cur = t;
    for part in at {
        cur = cur.get(*part)?.as_table()?;
    }
    cur.get(key)
}

/// Paths as a TOML array of strings.
fn paths(p: &[std::path::PathBuf]) -> Value {
    Value::Array(
        p.iter()
            .map(|p| Value::String(p.display().to_string()))
            .collect(),
    )
}

/// The keys of one `[limits]` table.
fn limits(t: &mut Table, at: &[&str], l: &Limits) {
    put(t, at, "max_active_series", int(l.max_active_series));
    put(t, at, "max_series_per_metric", int(l.max_series_per_metric));
    put(t, at, "active_series_window", dur(l.active_series_window));
    put(t, at, "ingest_rate", l.ingest_rate);
    put(t, at, "ingest_burst", l.ingest_burst);
    put(t, at, "max_labels_per_series", int(l.max_labels_per_series));
    put(t, at, "max_label_name_len", int(l.max_label_name_len));
    put(t, at, "max_label_value_len", int(l.max_label_value_len));
    if let Some(b) = l.disk_budget {
        put(t, at, "disk_budget_bytes", int(b));
    }
    put(t, at, "metrics_retention", dur(l.metrics_retention));
    put(t, at, "traces_retention", dur(l.traces_retention));
    put(t, at, "logs_retention", dur(l.logs_retention));
    put(t, at, "cold_after", dur(l.cold_after));
    put(t, at, "downsampling", tiers(&l.downsampling));
    put(t, at, "signal_record_rate", l.signal_record_rate);
    put(t, at, "signal_record_burst", l.signal_record_burst);
    put(t, at, "signal_byte_rate", l.signal_byte_rate);
    put(t, at, "signal_byte_burst", l.signal_byte_burst);
    put(t, at, "max_attributes", int(l.max_attributes));
    put(
        t,
        at,
        "max_attribute_value_len",
        int(l.max_attribute_value_len),
    );
    put(t, at, "max_attribute_depth", int(l.max_attribute_depth));
    put(t, at, "max_events", int(l.max_events));
    put(t, at, "max_links", int(l.max_links));
    put(t, at, "max_exemplars", int(l.max_exemplars));
    put(
        t,
        at,
        "max_native_histogram_buckets",
        int(l.max_native_histogram_buckets),
    );
}

/// Sets `key` in the table at path `at` (created as needed; a non-table in the way is
/// replaced).
fn put(t: &mut Table, at: &[&str], key: &str, value: impl Into<Value>) {
    let mut cur = t;
    for part in at {
        let entry = cur
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else {
            return; // made a table just above
        };
        cur = next;
    }
    cur.insert(key.to_owned(), value.into());
}

/// A count as a TOML integer (saturating: TOML integers are i64).
fn int(n: impl TryInto<i64>) -> Value {
    Value::Integer(n.try_into().unwrap_or(i64::MAX))
}

/// A duration as the file writes one (`"30days"`, `"1h"`).
/// Downsampled tiers as `[[...downsampling]]` tables.
fn tiers(tiers: &[strata_engine::Downsampling]) -> Value {
    Value::Array(
        tiers
            .iter()
            .map(|d| {
                let mut t = Table::new();
                t.insert("after".into(), Value::String(dur(d.after)));
                t.insert("resolution".into(), Value::String(dur(d.resolution)));
                if !d.matchers.is_empty() {
                    let inner: Vec<String> = d
                        .matchers
                        .iter()
                        .map(|m| format!("{}{}{:?}", m.name, m.op, m.value))
                        .collect();
                    t.insert(
                        "match".into(),
                        Value::String(format!("{{{}}}", inner.join(","))),
                    );
                }
                Value::Table(t)
            })
            .collect(),
    )
}

fn dur(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Whether a key's name says its value is a secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    if k.ends_with("_file") || k.ends_with("_path") {
        return false; // where a secret is, not the secret
    }
    [
        "secret",
        "password",
        "passwd",
        "sha256",
        "token",
        "api_key",
        "apikey",
        "access_key",
        "credential",
        "authorization",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Hides the secrets of `t` (see the module docs); `all` hides every string (a `headers`
/// table).
fn redact_table(t: &mut Table, all: bool) {
    for (key, value) in t.iter_mut() {
        let k = key.to_ascii_lowercase();
        if secret_key(&k) {
            hide(value);
        } else if all || k == "headers" {
            hide_strings(value);
        } else {
            redact_value(value, k == "url");
        }
    }
}

/// Hides secrets inside `v`; `webhook` keeps only a URL's scheme and host.
fn redact_value(v: &mut Value, webhook: bool) {
    match v {
        Value::Table(t) => redact_table(t, false),
        Value::Array(a) => a.iter_mut().for_each(|x| redact_value(x, webhook)),
        Value::String(s) => {
            if let Some(clean) = clean_url(s, webhook) {
                *s = clean;
            }
        }
        _ => {}
    }
}

/// Replaces `v` (whatever its shape: a string, a list of them, a table) by [`SECRET`].
fn hide(v: &mut Value) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(hide),
        Value::Table(t) => t.iter_mut().for_each(|(_, x)| hide(x)),
        _ => *v = Value::from(SECRET),
    }
}

/// Hides every string inside `v`.
fn hide_strings(v: &mut Value) {
    match v {
        Value::String(_) => *v = Value::from(SECRET),
        Value::Array(a) => a.iter_mut().for_each(hide_strings),
        Value::Table(t) => t.iter_mut().for_each(|(_, x)| hide_strings(x)),
        _ => {}
    }
}

/// `s` without what may be a credential, if it is a URL that has any: a user or password,
/// a query, or (for a webhook) any path.
fn clean_url(s: &str, webhook: bool) -> Option<String> {
    let url = url::Url::parse(s).ok()?;
    let host = url.host_str()?;
    let path_secret = webhook && !matches!(url.path(), "" | "/");
    if url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && !path_secret
    {
        return None;
    }
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if webhook { "" } else { url.path() };
    Some(format!("{}://{host}{port}{path}/{SECRET}", url.scheme()).replace("//<", "/<"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

    fn load(text: &str) -> Config {
        Config::from_toml(text).expect("config")
    }

    #[test]
    fn secrets_never_appear_and_resolved_values_do() {
        let text = format!(
            "[server]\nmax_body_bytes = 1000\n\
             [[auth.tokens]]\nsha256 = \"{DIGEST}\"\ntenant = \"acme\"\nscopes = [\"read\"]\n\
             [storage]\nbackend = \"s3\"\nbucket = \"b\"\naccess_key_id = \"AKIAEXAMPLE\"\n\
             secret_access_key = \"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\"\n\
             endpoint = \"http://minio:9000\"\n\
             [alerting]\nalertmanagers = [\"http://am:pa55word@am.example:9093/base?token=tok123\"]\n\
             [[alerting.webhooks]]\nname = \"chat\"\nurl = \"https://hooks.example.com/services/T0/B0/hookkey99\"\n\
             [limits.tenants.acme]\nmax_active_series = 7\n"
        );
        let c = load(&text);
        let out = redacted_toml(&c);
        for secret in [
            DIGEST,
            "AKIAEXAMPLE",
            "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
            "pa55word",
            "tok123",
            "hookkey99",
        ] {
            assert!(!out.contains(secret), "{secret} in:\n{out}");
        }
        let back: Table = toml::from_str(&out).expect("the view is TOML");
        let get = |path: &[&str]| -> Option<Value> {
            let mut v = Value::Table(back.clone());
            for p in path {
                v = v.as_table()?.get(*p)?.clone();
            }
            Some(v)
        };
        assert_eq!(
            get(&["auth", "tokens"]).and_then(|t| t.as_array()?.first()?.get("sha256").cloned()),
            Some(Value::from(SECRET))
        );
        assert_eq!(
            get(&["storage", "secret_access_key"]),
            Some(Value::from(SECRET))
        );
        assert_eq!(
            get(&["storage", "endpoint"]),
            Some(Value::from("http://minio:9000"))
        );
        assert_eq!(
            get(&["server", "max_body_bytes"]),
            Some(Value::Integer(1000))
        );
        // Defaults the file did not set show as resolved.
        assert_eq!(
            get(&["limits", "max_active_series"]),
            Some(Value::Integer(150_000))
        );
        assert_eq!(
            get(&["limits", "tenants", "acme", "max_active_series"]),
            Some(Value::Integer(7))
        );
        assert_eq!(get(&["wal", "durability"]), Some(Value::from("fsync")));
        let hook = get(&["alerting", "webhooks"])
            .and_then(|w| w.as_array()?.first()?.get("url").cloned())
            .expect("webhook url");
        assert_eq!(hook, Value::from("https://hooks.example.com/<secret>"));
    }

    #[test]
    fn secret_keys_by_name() {
        for k in [
            "sha256",
            "secret_access_key",
            "password",
            "bearer_token",
            "api_key",
        ] {
            assert!(secret_key(k), "{k}");
        }
        for k in [
            "token_file",
            "tenant",
            "max_tokens_path",
            "bucket",
            "endpoint",
        ] {
            assert!(!secret_key(k), "{k}");
        }
    }
}
