//! The memory self-metrics: the limit, each budget, what the query pool holds, the
//! process's resident memory, and query admission (`runtime/admission.rs`).

use super::exposition::{header, line};
use crate::runtime::state::AppState;

/// Appends the memory and admission self-metrics of `state` to `out`.
pub(crate) fn render(out: &mut String, state: &AppState) {
    let plan = &state.memory;
    let pool = state.queries.query_memory();
    let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
        header(out, name, "gauge", help);
        line(out, name, &[], v);
    };
    gauge(
        out,
        "strata_memory_limit_bytes",
        "The memory limit every budget is a share of (server.memory_limit, or 0.75 of the container's limit or the machine's RAM).",
        plan.limit as f64,
    );
    let name = "strata_memory_budget_bytes";
    header(
        out,
        name,
        "gauge",
        "Each memory budget, by its configuration key.",
    );
    for b in &plan.budgets {
        line(out, name, &[("budget", b.key)], b.bytes as f64);
    }
    if let Ok(engine) = state.engine() {
        gauge(
            out,
            "strata_head_bytes",
            "What the head holds against engine.max_head_bytes (unflushed samples at 16 bytes each, histograms, spans, log records).",
            engine.head_bytes() as f64,
        );
        gauge(
            out,
            "strata_page_cache_bytes",
            "Decoded samples pages kept between queries (at most engine.page_cache_bytes).",
            engine.page_cache_used() as f64,
        );
    }
    let [anon, rss] = crate::runtime::pressure::status_bytes(["RssAnon:", "VmRSS:"]);
    if let Some(anon) = anon {
        gauge(
            out,
            "strata_process_anonymous_memory_bytes",
            "The process's anonymous resident memory (RssAnon), which memory pressure is measured on.",
            anon as f64,
        );
    }
    if let Some(rss) = rss {
        gauge(
            out,
            "strata_process_resident_memory_bytes",
            "The process's resident memory (VmRSS of /proc/self/status).",
            rss as f64,
        );
    }
    gauge(
        out,
        "strata_query_memory_used_bytes",
        "Bytes the running queries hold in the query memory pool (server.query_memory_bytes).",
        pool.used() as f64,
    );
    gauge(
        out,
        "strata_query_memory_peak_bytes",
        "The most bytes the query memory pool held at once since start.",
        pool.peak() as f64,
    );
    gauge(
        out,
        "strata_query_memory_per_query_bytes",
        "The most one query may hold (the pool over server.max_concurrent_queries).",
        pool.per_query() as f64,
    );
    state.queries.admission().render(out, pool.refused());
    state.queries.pressure().render(out);
    let spread = strata_query::sql::spread_stats();
    let name = "strata_sql_worker_retries_total";
    header(
        out,
        name,
        "counter",
        "SQL queries a worker failed before their first batch, planned again over the workers still up.",
    );
    line(out, name, &[], spread.retries as f64);
    let name = "strata_sql_worker_local_runs_total";
    header(
        out,
        name,
        "counter",
        "SQL queries spread over workers that failed for an unreachable worker and were run again in this process alone.",
    );
    line(out, name, &[], spread.local_runs as f64);
    let help = format!(
        "Configured workers left out of spread queries now: they failed a query and refused a connection in the last {} s.",
        strata_query::sql::DOWN_FOR.as_secs()
    );
    gauge(out, "strata_sql_workers_down", &help, spread.down as f64);
    let name = "strata_sql_worker_tasks_total";
    header(
        out,
        name,
        "counter",
        "Tasks of spread SQL queries this process ran as a worker (a query process counts the stages it keeps).",
    );
    line(out, name, &[], spread.tasks as f64);
}
