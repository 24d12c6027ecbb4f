//! The PromQL conformance runner: script parser, runner, and the checked-in list of
//! expected failures.

pub(crate) mod hist;
pub(crate) mod run;
pub(crate) mod script;
