//! Validation of spans and log records, and the caps on their attributes, values, events
//! and links. A record either is rejected with a reason, or is stored after the caps cut
//! it, each cut counted (see [`crate::Truncation`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::anyvalue::{AnyValue, Attributes};
use crate::model::records::{LogRecord, Scope, SpanRecord};
use crate::{Limits, SignalReject, Truncation};

/// Counts of the cuts made to one record.
pub(crate) type Cuts = BTreeMap<Truncation, u64>;

/// A rejection: the reason and a message about it.
pub(crate) type Rejection = (SignalReject, String);

fn cut(cuts: &mut Cuts, t: Truncation, n: u64) {
    if n > 0 {
        *cuts.entry(t).or_default() += n;
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary. Whatever a cap cuts is also
/// given back to the allocator (`shrink_to_fit`): the memory a record holds is what is
/// counted against the budget (`spans_logs/record_memory.rs`), and a capped 10 kB value should not
/// keep its 10 kB.
fn cap_str(s: &mut String, max: usize, cuts: &mut Cuts) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.shrink_to_fit();
        cut(cuts, Truncation::ValueTruncated, 1);
    }
}

fn cap_value(v: &mut AnyValue, limits: &Limits, cuts: &mut Cuts) {
    let max = limits.max_attribute_value_len;
    match v {
        AnyValue::String(s) => cap_str(s, max, cuts),
        AnyValue::Bytes(b) if b.len() > max => {
            b.truncate(max);
            b.shrink_to_fit();
            cut(cuts, Truncation::ValueTruncated, 1);
        }
        AnyValue::Array(items) => {
            if items.len() > limits.max_attributes {
                items.truncate(limits.max_attributes);
                items.shrink_to_fit();
                cut(cuts, Truncation::ValueTruncated, 1);
            }
            for item in items {
                cap_value(item, limits, cuts);
            }
        }
        AnyValue::KvList(kvs) => {
            if kvs.len() > limits.max_attributes {
                kvs.truncate(limits.max_attributes);
                kvs.shrink_to_fit();
                cut(cuts, Truncation::ValueTruncated, 1);
            }
            for (k, item) in kvs {
                cap_str(k, max, cuts);
                cap_value(item, limits, cuts);
            }
        }
        _ => {}
    }
}

/// Whether [`cap_value`] would change `v`.
fn value_over(v: &AnyValue, limits: &Limits) -> bool {
    let max = limits.max_attribute_value_len;
    match v {
        AnyValue::String(s) => s.len() > max,
        AnyValue::Bytes(b) => b.len() > max,
        AnyValue::Array(items) => {
            items.len() > limits.max_attributes || items.iter().any(|i| value_over(i, limits))
        }
        AnyValue::KvList(kvs) => {
            kvs.len() > limits.max_attributes
                || kvs
                    .iter()
                    .any(|(k, i)| k.len() > max || value_over(i, limits))
        }
        AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) => false,
    }
}

/// Whether two attributes have the same key, without allocating for the usual short lists.
fn has_repeated_key(attrs: &Attributes) -> bool {
    if attrs.len() <= 32 {
        return attrs
            .iter()
            .enumerate()
            .any(|(i, (k, _))| attrs[..i].iter().any(|(k2, _)| k2 == k));
    }
    let mut seen = std::collections::HashSet::with_capacity(attrs.len());
    !attrs.iter().all(|(k, _)| seen.insert(k.as_str()))
}

/// Whether [`cap_attributes`] would change `attrs` (read-only: the usual answer, no, costs
/// no allocation and leaves shared lists shared).
fn attributes_over(attrs: &Attributes, limits: &Limits) -> bool {
    attrs.len() > limits.max_attributes
        || has_repeated_key(attrs)
        || attrs.iter().any(|(k, v)| {
            k.len() > limits.max_attribute_value_len
                || v.deeper_than(limits.max_attribute_depth)
                || value_over(v, limits)
        })
}

/// Applies the attribute caps to one list, adding what it dropped to `dropped`.
fn cap_attributes(attrs: &mut Attributes, dropped: &mut u32, limits: &Limits, cuts: &mut Cuts) {
    if !attributes_over(attrs, limits) {
        return;
    }
    // Keys are unique in OTLP; a repeated key is dropped (the first one stays), so the
    // stored map and its types map are unambiguous.
    let mut seen = std::collections::HashSet::new();
    let before = attrs.len();
    attrs.retain(|(k, _)| seen.insert(k.clone()));
    let repeated = before - attrs.len();
    let before = attrs.len();
    attrs.retain(|(_, v)| !v.deeper_than(limits.max_attribute_depth));
    let too_deep = before - attrs.len();
    cut(cuts, Truncation::AttributeTooDeep, too_deep as u64);
    let over = attrs.len().saturating_sub(limits.max_attributes) + repeated;
    attrs.truncate(limits.max_attributes);
    attrs.shrink_to_fit();
    cut(cuts, Truncation::AttributeDropped, over as u64);
    let n = u32::try_from(too_deep + over).unwrap_or(u32::MAX);
    *dropped = dropped.saturating_add(n);
    for (k, v) in attrs {
        cap_str(k, limits.max_attribute_value_len, cuts);
        cap_value(v, limits, cuts);
    }
}

/// Resource attributes have no dropped count of their own in the stored record; what the
/// caps drop from them is counted in the outcome only (for every record). The records of
/// one resource share its list; a record whose list the caps change gets its own copy.
/// The last resource attribute list one write checked: as given, as capped, and what the
/// caps cut from it. The records of one OTLP resource share one list (`model/records.rs`), so a
/// write checks it once instead of once per record (18.5% of the instructions of a span
/// write with 11 resource attributes, `docs/benchmarks-history.md`); each record still counts the
/// cuts, as when every record was checked.
/// A span's scope is checked the same way: its attributes, shared by the spans of the
/// scope, capped once per write and scope.
#[derive(Default)]
pub(crate) struct ResourceCheck {
    last: Checked<Attributes>,
    scope: Checked<Scope>,
}

/// A shared value as given, as capped, and what the caps cut from it.
type Checked<T> = Option<(Arc<T>, Arc<T>, Cuts)>;

/// A shared value whose attribute list the caps apply to: a resource's list, a scope.
trait Capped: Clone {
    fn list(&self) -> &Attributes;
    fn list_mut(&mut self) -> &mut Attributes;
}

impl Capped for Attributes {
    fn list(&self) -> &Attributes {
        self
    }

    fn list_mut(&mut self) -> &mut Attributes {
        self
    }
}

impl Capped for Scope {
    fn list(&self) -> &Attributes {
        &self.attributes
    }

    fn list_mut(&mut self) -> &mut Attributes {
        &mut self.attributes
    }
}

/// Caps the attribute list of the shared value `v`, once per distinct `v` (`seen`: the
/// last one checked); see [`ResourceCheck`].
fn cap_shared<T: Capped>(v: &mut Arc<T>, limits: &Limits, cuts: &mut Cuts, seen: &mut Checked<T>) {
    if let Some((given, capped, cut_there)) = seen
        && Arc::ptr_eq(given, v)
    {
        *v = capped.clone();
        for (t, n) in cut_there {
            cut(cuts, *t, *n);
        }
        return;
    }
    let given = v.clone();
    let mut cut_here = Cuts::new();
    if attributes_over(v.list(), limits) {
        let mut ignored = 0;
        let attrs = Arc::make_mut(v).list_mut();
        cap_attributes(attrs, &mut ignored, limits, &mut cut_here);
    }
    for (t, n) in &cut_here {
        cut(cuts, *t, *n);
    }
    *seen = Some((given, v.clone(), cut_here));
}

fn cap_resource(
    attrs: &mut Arc<Attributes>,
    limits: &Limits,
    cuts: &mut Cuts,
    seen: &mut ResourceCheck,
) {
    cap_shared(attrs, limits, cuts, &mut seen.last);
}

/// Caps a span's scope attributes as [`cap_resource`] caps its resource's.
fn cap_scope(scope: &mut Arc<Scope>, limits: &Limits, cuts: &mut Cuts, seen: &mut ResourceCheck) {
    cap_shared(scope, limits, cuts, &mut seen.scope);
}

/// `what` names the record in the message; it is only formatted for a rejection.
fn check_trace_id(id: &[u8; 16], what: impl FnOnce() -> String) -> Result<(), Rejection> {
    if *id == [0; 16] {
        return Err((
            SignalReject::InvalidTraceId,
            format!("{} has an all-zero trace id", what()),
        ));
    }
    Ok(())
}

fn check_span_id(id: &[u8; 8], what: impl FnOnce() -> String) -> Result<(), Rejection> {
    if *id == [0; 8] {
        return Err((
            SignalReject::InvalidSpanId,
            format!("{} has an all-zero span id", what()),
        ));
    }
    Ok(())
}

/// Checks a span and applies the caps; `cutoff_ns` is the retention's start.
pub(crate) fn check_span(
    s: &mut SpanRecord,
    limits: &Limits,
    cutoff_ns: i64,
    seen: &mut ResourceCheck,
) -> Result<Cuts, Rejection> {
    let what = || format!("span {:?} of service {:?}", s.name, s.service_name);
    check_trace_id(&s.trace_id, what)?;
    check_span_id(&s.span_id, what)?;
    if s.start_ns <= 0 {
        return Err((
            SignalReject::MissingTimestamp,
            format!("{} has no start time", what()),
        ));
    }
    if s.end_ns < s.start_ns {
        return Err((
            SignalReject::EndBeforeStart,
            format!(
                "{} ends ({}) before it starts ({})",
                what(),
                s.end_ns,
                s.start_ns
            ),
        ));
    }
    if s.start_ns < cutoff_ns {
        return Err((
            SignalReject::OutOfRetention,
            format!(
                "{} starts at {} ns, before the tenant's traces retention",
                what(),
                s.start_ns
            ),
        ));
    }
    for l in &s.links {
        check_trace_id(&l.trace_id, || format!("a link of {}", what()))?;
        check_span_id(&l.span_id, || format!("a link of {}", what()))?;
    }
    if s.parent_span_id == Some([0; 8]) {
        s.parent_span_id = None;
    }
    let mut cuts = Cuts::new();
    let max = limits.max_attribute_value_len;
    cap_str(&mut s.name, max, &mut cuts);
    cap_str(&mut s.status_message, max, &mut cuts);
    cap_attributes(
        &mut s.attributes,
        &mut s.dropped_attributes_count,
        limits,
        &mut cuts,
    );
    cap_resource(&mut s.resource_attributes, limits, &mut cuts, seen);
    cap_scope(&mut s.scope, limits, &mut cuts, seen);
    let over = s.events.len().saturating_sub(limits.max_events);
    s.events.truncate(limits.max_events);
    if over > 0 {
        s.events.shrink_to_fit();
    }
    cut(&mut cuts, Truncation::EventDropped, over as u64);
    s.dropped_events_count = s
        .dropped_events_count
        .saturating_add(u32::try_from(over).unwrap_or(u32::MAX));
    for e in &mut s.events {
        cap_str(&mut e.name, max, &mut cuts);
        cap_attributes(
            &mut e.attributes,
            &mut e.dropped_attributes_count,
            limits,
            &mut cuts,
        );
    }
    let over = s.links.len().saturating_sub(limits.max_links);
    s.links.truncate(limits.max_links);
    if over > 0 {
        s.links.shrink_to_fit();
    }
    cut(&mut cuts, Truncation::LinkDropped, over as u64);
    s.dropped_links_count = s
        .dropped_links_count
        .saturating_add(u32::try_from(over).unwrap_or(u32::MAX));
    for l in &mut s.links {
        cap_attributes(
            &mut l.attributes,
            &mut l.dropped_attributes_count,
            limits,
            &mut cuts,
        );
    }
    Ok(cuts)
}

/// Checks a log record and applies the caps; `cutoff_ns` is the retention's start. A record
/// without a time takes its observed time.
pub(crate) fn check_log(
    r: &mut LogRecord,
    limits: &Limits,
    cutoff_ns: i64,
    seen: &mut ResourceCheck,
) -> Result<Cuts, Rejection> {
    let what = || format!("log record of service {:?}", r.service_name);
    if let Some(t) = &r.trace_id {
        check_trace_id(t, what)?;
    }
    if let Some(s) = &r.span_id {
        check_span_id(s, what)?;
    }
    if r.time_ns <= 0 {
        r.time_ns = r.observed_time_ns;
    }
    if r.time_ns <= 0 {
        return Err((
            SignalReject::MissingTimestamp,
            format!("{} has neither a time nor an observed time", what()),
        ));
    }
    if r.time_ns < cutoff_ns {
        return Err((
            SignalReject::OutOfRetention,
            format!(
                "{} at {} ns is before the tenant's logs retention",
                what(),
                r.time_ns
            ),
        ));
    }
    let mut cuts = Cuts::new();
    cap_str(
        &mut r.severity_text,
        limits.max_attribute_value_len,
        &mut cuts,
    );
    if let Some(body) = &mut r.body {
        // The body is not dropped for depth: it is the record. Its leaves are capped.
        cap_value(body, limits, &mut cuts);
    }
    cap_attributes(
        &mut r.attributes,
        &mut r.dropped_attributes_count,
        limits,
        &mut cuts,
    );
    cap_resource(&mut r.resource_attributes, limits, &mut cuts, seen);
    drop_scope_attributes(&mut r.scope, seen);
    Ok(cuts)
}

/// Logs files keep a scope's name and version only (`docs/formats/spans-logs.md`), so a
/// log record's scope attributes are dropped (not counted: no log record keeps them), once
/// per write and scope, the records of the scope still sharing one.
fn drop_scope_attributes(scope: &mut Arc<Scope>, seen: &mut ResourceCheck) {
    if scope.attributes.is_empty() {
        return;
    }
    if let Some((given, kept, _)) = &seen.scope
        && Arc::ptr_eq(given, scope)
    {
        *scope = kept.clone();
        return;
    }
    let given = scope.clone();
    Arc::make_mut(scope).attributes = Attributes::new();
    seen.scope = Some((given, scope.clone(), Cuts::new()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::records::SpanEvent;

    fn span() -> SpanRecord {
        SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            start_ns: 10,
            end_ns: 20,
            name: "op".into(),
            ..SpanRecord::default()
        }
    }

    fn limits() -> Limits {
        Limits {
            max_attributes: 2,
            max_attribute_value_len: 4,
            max_attribute_depth: 2,
            max_events: 1,
            ..Limits::default()
        }
    }

    #[test]
    fn invalid_ids_and_times_are_rejected_with_a_reason() {
        let l = limits();
        type Case = (fn(&mut SpanRecord), SignalReject);
        let cases: [Case; 5] = [
            (|s| s.trace_id = [0; 16], SignalReject::InvalidTraceId),
            (|s| s.span_id = [0; 8], SignalReject::InvalidSpanId),
            (|s| s.end_ns = 9, SignalReject::EndBeforeStart),
            (|s| s.start_ns = 0, SignalReject::MissingTimestamp),
            (
                |s| {
                    s.links.push(crate::model::records::SpanLink {
                        trace_id: [3; 16],
                        ..Default::default()
                    })
                },
                SignalReject::InvalidSpanId,
            ),
        ];
        for (break_it, want) in cases {
            let mut s = span();
            break_it(&mut s);
            let (got, msg) = check_span(&mut s, &l, 0, &mut ResourceCheck::default()).unwrap_err();
            assert_eq!(got, want, "{msg}");
            assert!(msg.contains("\"op\""), "{msg}");
        }
        let (got, _) = check_span(&mut span(), &l, 11, &mut ResourceCheck::default()).unwrap_err();
        assert_eq!(got, SignalReject::OutOfRetention);
    }

    #[test]
    fn caps_cut_and_count_every_change() {
        let mut s = span();
        s.name = "über-long".into(); // 'ü' is two bytes: cut at a boundary
        s.parent_span_id = Some([0; 8]);
        s.attributes = vec![
            (
                "deep".into(),
                AnyValue::Array(vec![AnyValue::Array(vec![AnyValue::Int(1)])]),
            ),
            ("a".into(), AnyValue::String("abcdef".into())),
            ("b".into(), AnyValue::Bytes(vec![0; 9])),
            ("c".into(), AnyValue::Int(1)),
        ];
        s.events = vec![SpanEvent::default(), SpanEvent::default()];
        let cuts = check_span(&mut s, &limits(), 0, &mut ResourceCheck::default()).unwrap();
        assert_eq!(s.name, "übe");
        assert_eq!(s.parent_span_id, None);
        assert_eq!(
            s.attributes,
            vec![
                ("a".into(), AnyValue::String("abcd".into())),
                ("b".into(), AnyValue::Bytes(vec![0; 4])),
            ]
        );
        assert_eq!(s.dropped_attributes_count, 2);
        assert_eq!((s.events.len(), s.dropped_events_count), (1, 1));
        let want: Cuts = [
            (Truncation::AttributeDropped, 1),
            (Truncation::AttributeTooDeep, 1),
            (Truncation::ValueTruncated, 3),
            (Truncation::EventDropped, 1),
        ]
        .into();
        assert_eq!(cuts, want);
    }

    proptest::proptest! {
        /// The read-only check that lets shared resource lists stay shared agrees with the
        /// caps: it says "over" exactly when capping changes the list or counts a cut.
        #[test]
        fn the_read_only_check_agrees_with_the_caps(
            attrs in proptest::collection::vec(
                ("[a-f]{1,6}", crate::model::anyvalue::tests::any_value()), 0..6),
        ) {
            let l = limits();
            let over = attributes_over(&attrs, &l);
            let mut capped = attrs.clone();
            let (mut dropped, mut cuts) = (0, Cuts::new());
            // The caps themselves, without the shortcut.
            let mut seen = std::collections::HashSet::new();
            let before = capped.len();
            capped.retain(|(k, _)| seen.insert(k.clone()));
            let mut changed = before != capped.len();
            let mut rest = capped.clone();
            rest.retain(|(_, v)| !v.deeper_than(l.max_attribute_depth));
            changed |= rest.len() != capped.len() || rest.len() > l.max_attributes;
            rest.truncate(l.max_attributes);
            for (k, v) in &mut rest {
                cap_str(k, l.max_attribute_value_len, &mut cuts);
                cap_value(v, &l, &mut cuts);
            }
            changed |= !cuts.is_empty();
            proptest::prop_assert_eq!(over, changed);
            // And through the shortcut: untouched when not over.
            let mut via = attrs.clone();
            cap_attributes(&mut via, &mut dropped, &l, &mut Cuts::new());
            if !over {
                proptest::prop_assert_eq!(via, attrs);
            }
        }
    }

    #[test]
    fn a_shared_resource_stays_shared_unless_capped() {
        let l = limits();
        let ok = Arc::new(vec![("k".into(), AnyValue::String("v".into()))]);
        let mut s = span();
        s.resource_attributes = ok.clone();
        check_span(&mut s, &l, 0, &mut ResourceCheck::default()).unwrap();
        assert!(Arc::ptr_eq(&s.resource_attributes, &ok));
        let long = Arc::new(vec![("k".into(), AnyValue::String("toolong".into()))]);
        let mut s = span();
        s.resource_attributes = long.clone();
        let cuts = check_span(&mut s, &l, 0, &mut ResourceCheck::default()).unwrap();
        assert_eq!(cuts, [(Truncation::ValueTruncated, 1)].into());
        assert_eq!(
            *s.resource_attributes,
            vec![("k".into(), AnyValue::String("tool".into()))]
        );
        // The other records of the resource keep it as sent.
        assert_eq!(long[0].1, AnyValue::String("toolong".into()));
    }

    /// One write checks a resource's list once: every record of it still counts the cut
    /// and gets the capped list (one copy, shared), and a record of another resource, or
    /// of the first again after it, is checked against its own list.
    #[test]
    fn the_records_of_one_resource_are_checked_once_and_each_counts_its_cuts() {
        let l = limits();
        let long = Arc::new(vec![("k".into(), AnyValue::String("toolong".into()))]);
        let over = Arc::new(vec![
            ("a".into(), AnyValue::Int(1)),
            ("b".into(), AnyValue::Int(2)),
            ("c".into(), AnyValue::Int(3)),
        ]);
        let fine = Arc::new(vec![("k".into(), AnyValue::String("v".into()))]);
        let mut seen = ResourceCheck::default();
        let mut checked = Vec::new();
        for res in [&long, &long, &fine, &over, &over, &long] {
            let mut s = span();
            s.resource_attributes = Arc::clone(res);
            let cuts = check_span(&mut s, &l, 0, &mut seen).unwrap();
            checked.push((s, cuts));
        }
        let value_cut: Cuts = [(Truncation::ValueTruncated, 1)].into();
        let dropped: Cuts = [(Truncation::AttributeDropped, 1)].into();
        let want = [
            &value_cut,
            &value_cut,
            &Cuts::new(),
            &dropped,
            &dropped,
            &value_cut,
        ];
        for ((s, cuts), want) in checked.iter().zip(want) {
            assert_eq!(cuts, want, "{:?}", s.resource_attributes);
        }
        let capped = vec![("k".into(), AnyValue::String("tool".into()))];
        assert_eq!(*checked[0].0.resource_attributes, capped);
        assert!(Arc::ptr_eq(
            &checked[0].0.resource_attributes,
            &checked[1].0.resource_attributes
        ));
        assert!(Arc::ptr_eq(&checked[2].0.resource_attributes, &fine));
        assert_eq!(checked[3].0.resource_attributes.len(), 2);
        assert_eq!(*checked[5].0.resource_attributes, capped);
        assert_eq!(long[0].1, AnyValue::String("toolong".into()));
    }

    /// A span's scope attributes take the caps once per scope, its spans sharing the capped
    /// scope; a log record's scope keeps its name and version only.
    #[test]
    fn scope_attributes_are_capped_for_spans_and_dropped_for_logs() {
        let l = limits();
        let scope = Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
            attributes: vec![
                ("k".into(), AnyValue::String("toolong".into())),
                ("n".into(), AnyValue::Int(1)),
            ],
        });
        let mut seen = ResourceCheck::default();
        let mut spans = Vec::new();
        for _ in 0..2 {
            let mut s = span();
            s.scope = scope.clone();
            let cuts = check_span(&mut s, &l, 0, &mut seen).unwrap();
            assert_eq!(cuts, [(Truncation::ValueTruncated, 1)].into());
            spans.push(s);
        }
        assert_eq!(
            spans[0].scope.attributes,
            vec![
                ("k".into(), AnyValue::String("tool".into())),
                ("n".into(), AnyValue::Int(1)),
            ]
        );
        assert_eq!(spans[0].scope.name, "lib");
        assert!(Arc::ptr_eq(&spans[0].scope, &spans[1].scope));
        // Within the caps: the scope as sent, shared.
        let fine = Arc::new(Scope {
            attributes: vec![("k".into(), AnyValue::String("v".into()))],
            ..Scope::default()
        });
        let mut s = span();
        s.scope = fine.clone();
        check_span(&mut s, &l, 0, &mut ResourceCheck::default()).unwrap();
        assert!(Arc::ptr_eq(&s.scope, &fine));
        let mut seen = ResourceCheck::default();
        let logs: Vec<LogRecord> = (0..2)
            .map(|_| {
                let mut r = LogRecord {
                    time_ns: 5,
                    scope: scope.clone(),
                    ..LogRecord::default()
                };
                assert_eq!(check_log(&mut r, &l, 0, &mut seen).unwrap(), Cuts::new());
                r
            })
            .collect();
        assert_eq!(
            (
                &*logs[0].scope.name,
                &*logs[0].scope.version,
                logs[0].scope.attributes.len()
            ),
            ("lib", "1", 0)
        );
        assert!(Arc::ptr_eq(&logs[0].scope, &logs[1].scope));
    }

    #[test]
    fn a_log_without_time_takes_its_observed_time() {
        let mut r = LogRecord {
            observed_time_ns: 5,
            ..LogRecord::default()
        };
        check_log(&mut r, &limits(), 0, &mut ResourceCheck::default()).unwrap();
        assert_eq!(r.time_ns, 5);
        let mut r = LogRecord::default();
        let (got, _) = check_log(&mut r, &limits(), 0, &mut ResourceCheck::default()).unwrap_err();
        assert_eq!(got, SignalReject::MissingTimestamp);
        let mut r = LogRecord {
            time_ns: 5,
            trace_id: Some([0; 16]),
            ..LogRecord::default()
        };
        let (got, _) = check_log(&mut r, &limits(), 0, &mut ResourceCheck::default()).unwrap_err();
        assert_eq!(got, SignalReject::InvalidTraceId);
    }
}
