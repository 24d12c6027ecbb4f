//! The PromQL conformance runner: script parser, loads, checks, the engine runner, and
//! the checked-in lists of expected failures and of cases run with delayed name removal.

pub(crate) mod check;
pub(crate) mod hist;
pub(crate) mod lists;
pub(crate) mod load;
pub(crate) mod run;
pub(crate) mod script;
