//! Log and trace search below SQL: a `logs` scan whose filters need substrings of `body`
//! keeps the files and blocks their line filters allow ([`line_filter`]), searches their
//! lines exactly ([`exact`]) and reads the matching rows back ([`lookup_exec`]); a scan that
//! pins `trace_id` drops the files whose bloom filters rule the ids out ([`trace_ids`]); and
//! a trace search's result is read back as `(trace_id, time)` pairs ([`trace_rows`]).

mod exact;
pub(crate) mod line_filter;
pub(crate) mod lookup_exec;
pub(crate) mod trace_ids;
pub(crate) mod trace_rows;
