//! OTLP log records to the engine's [`LogRecord`]s (see `docs/otlp-mapping.md`, "Spans and
//! logs"): every field the engine stores, ids checked with the engine's `parse_id`.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLogRecord;
use strata_engine::{LogRecord, SignalReject};

use super::batch::{Batch, Context, ScopeAttributes, Values, nanos, optional_id};

/// The log records of one request. The trace and span ids are optional (empty: none); one
/// that is set but has the wrong length or is all zeros refuses its record, counted.
pub(crate) fn translate_logs(req: ExportLogsServiceRequest) -> Batch<LogRecord> {
    let mut batch = Batch::default();
    let mut values = Values::default();
    for rl in req.resource_logs {
        let (resource_attributes, service_name) = values.resource(rl.resource);
        for sl in rl.scope_logs {
            let scope = values.scope(sl.scope, ScopeAttributes::Dropped);
            let ctx = Context {
                service_name: &service_name,
                resource_attributes: &resource_attributes,
                scope: &scope,
            };
            batch.records.reserve(sl.log_records.len());
            for r in sl.log_records {
                match log_record(r, &ctx, &mut values) {
                    Ok(r) => batch.records.push(r),
                    Err((reason, message)) => batch.reject(reason, || message),
                }
            }
        }
    }
    batch.empty_values = values.empty;
    batch
}

fn log_record(
    r: OtlpLogRecord,
    ctx: &Context<'_>,
    values: &mut Values,
) -> Result<LogRecord, (SignalReject, String)> {
    let what = || format!("log record of service {:?}", ctx.service_name);
    let trace_id = optional_id::<16>(&r.trace_id, "trace id")
        .map_err(|e| (SignalReject::InvalidTraceId, format!("{}: {e}", what())))?;
    let span_id = optional_id::<8>(&r.span_id, "span id")
        .map_err(|e| (SignalReject::InvalidSpanId, format!("{}: {e}", what())))?;
    let mut dropped_attributes_count = r.dropped_attributes_count;
    let attributes = values.attributes(r.attributes, &mut dropped_attributes_count);
    // No body at all is `None`, not an empty value to count.
    let body = r.body.and_then(|b| values.value(Some(b)));
    Ok(LogRecord {
        time_ns: nanos(r.time_unix_nano),
        observed_time_ns: nanos(r.observed_time_unix_nano),
        severity_number: r.severity_number,
        severity_text: r.severity_text,
        body,
        service_name: ctx.service_name.to_owned(),
        trace_id,
        span_id,
        flags: r.flags,
        attributes,
        resource_attributes: ctx.resource_attributes.clone(),
        scope: ctx.scope.clone(),
        dropped_attributes_count,
    })
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;
