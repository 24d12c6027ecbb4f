//! Line-processing stages of the LogQL engine: parsers (`json`, `logfmt`,
//! `pattern`, `regexp`, `unpack`), `decolorize`, unit conversions,
//! `line_format`/`label_format` templates, Drain pattern mining and
//! `detected_fields` helpers.
//!
//! Semantics follow Grafana Loki (pkg/logql/log). Parser stages return the
//! extracted `(name, value)` pairs; the evaluator merges them into the entry's
//! labels:
//! * a name that collides with a stream label or structured metadata is
//!   stored as `<name>_extracted` ([`names::extracted_name`]);
//! * a name already set by an earlier parser stage of the same pipeline is
//!   not overwritten (Loki's "already extracted" parser hint);
//! * parser errors set `__error__` (`JSONParserErr`, `LogfmtParserErr`,
//!   `TemplateFormatErr`, ...) and `__error_details__` (the error's `Display`).

pub mod decolorize;
pub mod detect;
pub mod drain;
pub mod ip;
pub mod json;
pub mod logfmt;
pub mod names;
pub mod pattern;
pub mod regexp;
pub mod template;
pub mod units;

#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
