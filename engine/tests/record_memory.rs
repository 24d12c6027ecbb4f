//! The bytes the engine counts for a span or log record in memory
//! (`strata_engine::record_memory`) are the bytes its allocations asked for, measured by a
//! counting allocator: the memory budget and the flush threshold count what the head
//! really holds, not the records' encoded size.
// A counting global allocator is the measurement: it needs `unsafe impl GlobalAlloc`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use strata_engine::record_memory::{log_bytes, span_bytes};
use strata_engine::{AnyValue, Attributes, LogRecord, Scope, SpanEvent, SpanLink, SpanRecord};

/// The system allocator, counting the bytes this thread holds.
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // `try_with`: the thread's counter may be gone while the thread exits.
    let _ = HELD.try_with(|h| h.set(h.get() + n));
}

// Safety: every call is passed on to `System` unchanged; only a counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // Safety: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // Safety: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // Safety: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes this thread holds.
fn held() -> isize {
    HELD.with(Cell::get)
}

/// Attributes of every value type, nested ones included, `n` of them at least.
fn attrs(n: usize, salt: usize) -> Attributes {
    let mut a: Attributes = (0..n)
        .map(|i| {
            let v = match (i + salt) % 6 {
                0 => AnyValue::String(format!("value-{i}-{}", "x".repeat(salt % 40))),
                1 => AnyValue::Int(i as i64),
                2 => AnyValue::Double(i as f64 / 3.0),
                3 => AnyValue::Bool(i % 2 == 0),
                4 => AnyValue::Bytes(vec![7; 3 + salt % 17]),
                _ => AnyValue::Array(vec![
                    AnyValue::String("a".into()),
                    AnyValue::KvList(vec![("k".into(), AnyValue::Int(1))]),
                ]),
            };
            (format!("attr.{i}.{salt}"), v)
        })
        .collect();
    // A list grown by pushing has spare capacity, which counts too.
    a.push(("pushed".into(), AnyValue::String("after".into())));
    a
}

fn span(i: usize, resource: &Arc<Attributes>, scope: &Arc<Scope>) -> SpanRecord {
    SpanRecord {
        trace_id: [1; 16],
        span_id: [2; 8],
        trace_state: if i.is_multiple_of(3) {
            "k=v".into()
        } else {
            String::new()
        },
        service_name: "checkout".into(),
        name: format!("GET /items/{i}"),
        start_ns: 1 + i as i64,
        end_ns: 2 + i as i64,
        status_message: "ok".repeat(i % 4),
        attributes: attrs(4 + i % 7, i),
        resource_attributes: resource.clone(),
        scope: scope.clone(),
        events: (0..i % 3)
            .map(|e| SpanEvent {
                time_ns: e as i64,
                name: format!("event {e}"),
                attributes: attrs(e + 1, i + e),
                dropped_attributes_count: 0,
            })
            .collect(),
        links: (0..i % 2)
            .map(|l| SpanLink {
                trace_id: [3; 16],
                span_id: [4; 8],
                trace_state: "t=1".into(),
                attributes: attrs(l + 2, i),
                dropped_attributes_count: 0,
            })
            .collect(),
        ..SpanRecord::default()
    }
}

fn resources() -> Vec<(Arc<Attributes>, Arc<Scope>)> {
    (0..3)
        .map(|r| {
            let scope = Scope {
                name: format!("lib-{r}"),
                version: "1.2.3".into(),
                attributes: attrs(r, 200 + r),
            };
            (Arc::new(attrs(11, 100 + r)), Arc::new(scope))
        })
        .collect()
}

#[test]
fn counted_span_bytes_are_the_bytes_allocated() {
    let before = held();
    let n = 200;
    let mut spans = Vec::with_capacity(n);
    for (r, (resource, scope)) in resources().iter().enumerate() {
        // Runs of records sharing a resource and scope, as a request delivers them.
        for i in 0..n / 3 + r {
            spans.push(span(i, resource, scope));
        }
        // The loop's own handles on the shared lists go with `resources()`'s Vec below.
    }
    let total = spans.len();
    let mut counted = (spans.capacity() - total) * std::mem::size_of::<SpanRecord>();
    let mut prev = None;
    for s in &spans {
        counted += span_bytes(s, prev);
        prev = Some(s);
    }
    let allocated = held() - before;
    assert_eq!(counted as isize, allocated, "{total} spans");
    drop(spans);
    assert_eq!(held(), before, "every allocation freed");
}

#[test]
fn counted_log_bytes_are_the_bytes_allocated() {
    let before = held();
    let mut logs = Vec::with_capacity(90);
    for (resource, scope) in resources() {
        for i in 0..30 {
            let body = match i % 3 {
                0 => None,
                1 => Some(AnyValue::String(format!("request {i} failed"))),
                _ => Some(AnyValue::KvList(attrs(3, i))),
            };
            logs.push(LogRecord {
                time_ns: 1 + i as i64,
                severity_text: "ERROR".into(),
                body,
                service_name: "checkout".into(),
                attributes: attrs(i % 5, i),
                resource_attributes: resource.clone(),
                scope: scope.clone(),
                ..LogRecord::default()
            });
        }
    }
    let mut counted = 0;
    let mut prev = None;
    for r in &logs {
        counted += log_bytes(r, prev);
        prev = Some(r);
    }
    let allocated = held() - before;
    assert_eq!(counted as isize, allocated);
}
