//! strata-query: SQL and PromQL over the Strata engine.
//!
//! It owns the PromQL evaluator ([`promql`]: parsed by `promql-parser`, evaluated here with
//! Prometheus 3.x semantics, reading series through [`promql::SeriesSource`]), and will own
//! the per-tenant DataFusion catalog and the embedding handle (issue #4). It does not own
//! storage layout (the engine's) or the network (the server's). [`prom_api`] renders PromQL
//! and label lookups as Prometheus's HTTP API JSON, for the server to route requests to.

pub mod prom_api;
pub mod promql;
