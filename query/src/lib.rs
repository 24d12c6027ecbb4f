//! strata-query: SQL and PromQL over the Strata engine.
//!
//! It will own the per-tenant DataFusion catalog (`samples`, `series`, `metrics`, `spans`,
//! `logs`), the PromQL evaluator (parsed by `promql-parser`, evaluated here) and the one
//! handle an embedding program uses: open a data directory, write, query.
//!
//! Status: not built yet (issue #4). This crate currently only fixes its place in the
//! dependency graph so the workspace's version set is checked as a whole.
