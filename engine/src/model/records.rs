//! Spans and log records as the engine stores them: plain structs, independent of the OTLP
//! protobuf types (the server translates). Their stored layout is in
//! `docs/formats/spans-logs.md`.
//!
//! What every record of one OTLP resource or scope has in common (the resource's
//! attributes, the scope) is held once, behind an [`Arc`], by all of them: a request of
//! 1,000 spans from one resource carries one copy, in memory as on the wire.

use std::sync::Arc;

use crate::model::anyvalue::{AnyValue, Attributes};

/// A 16-byte trace id. All zeros is invalid.
pub type TraceId = [u8; 16];
/// An 8-byte span id. All zeros is invalid.
pub type SpanId = [u8; 8];

/// The instrumentation scope that produced a span or log record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Scope name (e.g. the instrumentation library), empty if none.
    pub name: String,
    /// Scope version, empty if none.
    pub version: String,
    /// The scope's attributes (OTLP `InstrumentationScope.attributes`), in the order sent.
    /// Stored for spans (the `scope_attributes` column); a log record's are not stored (the
    /// write drops them), as logs files keep only the scope's name and version.
    pub attributes: Attributes,
}

/// A timed event of a span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanEvent {
    /// Nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// Event name.
    pub name: String,
    /// Its attributes.
    pub attributes: Attributes,
    /// Attributes the sender (or the engine's caps) dropped.
    pub dropped_attributes_count: u32,
}

/// A link from a span to another span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanLink {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// W3C trace state of the link, empty if none.
    pub trace_state: String,
    /// Its attributes.
    pub attributes: Attributes,
    /// Attributes the sender (or the engine's caps) dropped.
    pub dropped_attributes_count: u32,
}

/// One span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanRecord {
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent; `None` for a root span (an all-zero parent is stored as `None`).
    pub parent_span_id: Option<SpanId>,
    /// W3C trace state, empty if none.
    pub trace_state: String,
    /// OTLP span flags (W3C trace flags in the low byte).
    pub flags: u32,
    /// The resource's `service.name` (the translator takes it from the resource).
    pub service_name: String,
    /// Span (operation) name.
    pub name: String,
    /// OTLP `SpanKind` number: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer,
    /// 5 consumer.
    pub kind: i32,
    /// Start, nanoseconds since the Unix epoch. Decides the partition.
    pub start_ns: i64,
    /// End, nanoseconds since the Unix epoch; not before the start.
    pub end_ns: i64,
    /// OTLP status code: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    /// Status message, empty if none.
    pub status_message: String,
    /// Span attributes.
    pub attributes: Attributes,
    /// Resource attributes (`service.name` included, as sent), shared by the spans of one
    /// resource.
    pub resource_attributes: Arc<Attributes>,
    /// The instrumentation scope, shared by the spans of one scope.
    pub scope: Arc<Scope>,
    /// Events, in the order given.
    pub events: Vec<SpanEvent>,
    /// Links, in the order given.
    pub links: Vec<SpanLink>,
    /// Attributes dropped by the sender, plus those the engine's caps dropped.
    pub dropped_attributes_count: u32,
    /// Events dropped by the sender.
    pub dropped_events_count: u32,
    /// Links dropped by the sender.
    pub dropped_links_count: u32,
}

/// One log record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogRecord {
    /// When the event happened, nanoseconds since the Unix epoch. A record without one (0)
    /// is stored with its observed time here, as the OTel data model prescribes. Decides
    /// the partition.
    pub time_ns: i64,
    /// When the collector saw it, nanoseconds since the Unix epoch; 0 if unknown.
    pub observed_time_ns: i64,
    /// OTLP severity number (1..=24), 0 if unspecified.
    pub severity_number: i32,
    /// Severity text as sent (e.g. `ERROR`), empty if none.
    pub severity_text: String,
    /// The body: any value, or none.
    pub body: Option<AnyValue>,
    /// The resource's `service.name`.
    pub service_name: String,
    /// The trace it belongs to, if any.
    pub trace_id: Option<TraceId>,
    /// The span it belongs to, if any.
    pub span_id: Option<SpanId>,
    /// OTLP log record flags (W3C trace flags in the low byte).
    pub flags: u32,
    /// Log attributes.
    pub attributes: Attributes,
    /// Resource attributes, shared by the records of one resource.
    pub resource_attributes: Arc<Attributes>,
    /// The instrumentation scope, shared by the records of one scope.
    pub scope: Arc<Scope>,
    /// Attributes dropped by the sender, plus those the engine's caps dropped.
    pub dropped_attributes_count: u32,
}

/// Checks an id from the wire: it must have exactly `N` bytes and not be all zeros.
///
/// ```
/// use strata_engine::parse_id;
///
/// assert!(parse_id::<16>(&[1; 16]).is_ok());
/// assert!(parse_id::<16>(&[1; 8]).is_err());
/// assert!(parse_id::<8>(&[0; 8]).is_err());
/// ```
pub fn parse_id<const N: usize>(bytes: &[u8]) -> Result<[u8; N], String> {
    let id: [u8; N] = bytes
        .try_into()
        .map_err(|_| format!("id has {} bytes, expected {N}", bytes.len()))?;
    if id == [0; N] {
        return Err("id is all zeros".to_owned());
    }
    Ok(id)
}
