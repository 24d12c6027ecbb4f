//! Range-vector functions over float samples: each function on one series' window
//! ([`fns`]), and the same function over all the times a range query or subquery evaluates
//! it at once, series by series ([`grid`]). Their native-histogram side is in
//! `eval/range_hist.rs`, beside the evaluator whose annotations it records.

pub(crate) mod fns;
pub(crate) mod grid;
pub(crate) mod tiers;
