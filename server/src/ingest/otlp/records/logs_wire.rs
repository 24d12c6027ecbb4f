//! Protobuf `ExportLogsServiceRequest`s read straight into [`LogRecord`]s, without prost's
//! message structs in between: what `decode_logs_request` (`otlp/decode.rs`) followed by
//! [`super::logs::translate_logs`] gives, with one allocation per string the records keep.
//!
//! Narrow as the spans' reader ([`super::spans_wire`]): what it declines to the general path,
//! and the framing and values the two share, are in [`super::wire`]. The
//! differential tests in `logs_wire_tests.rs` hold it to the general path.

use strata_engine::{Attributes, LogRecord, SignalReject};

use super::batch::{Batch, Context, ScopeAttributes, Values, nanos, optional_id};
use super::wire::{Decline, Read, Refused, any_value, attribute, fixed32, once, utf8};
use crate::ingest::protobuf::{FIXED32, FIXED64, LEN, Reader, VARINT};

/// The log records of a protobuf body as [`super::logs::translate_logs`] gives them, or
/// `None` when the general path must read it.
pub(crate) fn translate(body: &[u8]) -> Option<Batch<LogRecord>> {
    use super::super::request_items::{LOGS, protobuf_records};
    translate_counted(body, protobuf_records(body, LOGS)?)
}

/// [`translate`] for a body holding `records` records, as `request_items` counted them.
pub(crate) fn translate_counted(body: &[u8], records: usize) -> Option<Batch<LogRecord>> {
    super::wire::translate(body, records, (log_record, ScopeAttributes::Dropped))
}

/// A log record's fields as given, its attributes converted.
#[derive(Default)]
struct LogFields<'a> {
    time: u64,
    observed_time: u64,
    severity_number: i32,
    severity_text: &'a str,
    body: Option<&'a [u8]>,
    attributes: Attributes,
    /// Top-level attributes without a value, dropped.
    empty_attributes: u32,
    dropped_attributes_count: u32,
    flags: u32,
    trace_id: &'a [u8],
    span_id: &'a [u8],
}

/// One log record: `Ok(Err(..))` when its ids refuse it. Everything is read (and so
/// checked) before the ids decide; a refused record's empty values are not counted, as in
/// the general path.
fn log_record(
    bytes: &[u8],
    ctx: &Context<'_>,
    values: &mut Values,
) -> Read<Result<LogRecord, Refused>> {
    let mut empty = 0u64;
    let mut list = values.take_list();
    let mut f = LogFields::default();
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, FIXED64) => f.time = r.fixed64()?,
            (2, VARINT) => f.severity_number = r.varint()? as i32,
            (3, LEN) => f.severity_text = utf8(r.len_delimited()?)?,
            (5, LEN) => once(&mut f.body, r.len_delimited()?)?,
            (6, LEN) => attribute(
                r.len_delimited()?,
                &mut list,
                &mut f.empty_attributes,
                &mut empty,
            )?,
            (7, VARINT) => f.dropped_attributes_count = r.varint()? as u32,
            (8, FIXED32) => f.flags = fixed32(&mut r)?,
            (9, LEN) => f.trace_id = r.len_delimited()?,
            (10, LEN) => f.span_id = r.len_delimited()?,
            (11, FIXED64) => f.observed_time = r.fixed64()?,
            // The event name is read (and so checked) but not stored, as in the general path.
            (12, LEN) => {
                utf8(r.len_delimited()?)?;
            }
            _ => return Err(Decline),
        }
    }
    f.attributes = values.exact(list);
    // A body without a value is an empty value, counted; no body at all is not.
    let body = match f.body {
        Some(b) => {
            let v = any_value(b, 0, &mut empty)?;
            if v.is_none() {
                empty += 1;
            }
            v
        }
        None => None,
    };
    let what = || format!("log record of service {:?}", ctx.service_name);
    let ids = || {
        let trace_id = optional_id::<16>(f.trace_id, "trace id")
            .map_err(|e| (SignalReject::InvalidTraceId, format!("{}: {e}", what())))?;
        let span_id = optional_id::<8>(f.span_id, "span id")
            .map_err(|e| (SignalReject::InvalidSpanId, format!("{}: {e}", what())))?;
        Ok((trace_id, span_id))
    };
    let (trace_id, span_id) = match ids() {
        Ok(ids) => ids,
        Err(refused) => return Ok(Err(refused)),
    };
    values.empty += empty;
    Ok(Ok(LogRecord {
        time_ns: nanos(f.time),
        observed_time_ns: nanos(f.observed_time),
        severity_number: f.severity_number,
        severity_text: f.severity_text.to_owned(),
        body,
        service_name: ctx.service_name.to_owned(),
        trace_id,
        span_id,
        flags: f.flags,
        attributes: f.attributes,
        resource_attributes: ctx.resource_attributes.clone(),
        scope: ctx.scope.clone(),
        dropped_attributes_count: f
            .dropped_attributes_count
            .saturating_add(f.empty_attributes),
    }))
}

#[cfg(test)]
#[path = "logs_wire_tests.rs"]
mod tests;
