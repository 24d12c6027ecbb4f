//! Tests of TraceQL: the parser, and a suite written from Tempo's documentation over a
//! fixed corpus of traces ([`corpus`]) with expected answers worked out by hand.

mod corpus;
mod metrics_cases;
mod parser_cases;
mod prefilter_cases;
mod search_cases;
