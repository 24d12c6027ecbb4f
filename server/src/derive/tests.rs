//! Unit tests of a write's counting and of the service graph's store (the end-to-end
//! behaviour is `server/tests/derived_metrics.rs`).

use std::collections::HashSet;
use std::sync::RwLock;

use strata_engine::{AnyValue, SpanRecord};

use super::servicegraph::{Conn, Done, Interner, Store, Upsert, half};
use super::spanmetrics::{Local, Table};

fn span(service: &str, name: &str, kind: i32, id: u8, parent: Option<u8>) -> SpanRecord {
    SpanRecord {
        trace_id: [7; 16],
        span_id: [id; 8],
        parent_span_id: parent.map(|p| [p; 8]),
        service_name: service.into(),
        name: name.into(),
        kind,
        start_ns: 1_000_000_000,
        end_ns: 1_030_000_000,
        ..SpanRecord::default()
    }
}

fn calls(table: &RwLock<Table>) -> Vec<(String, u64)> {
    let t = table.read().unwrap();
    let mut out: Vec<(String, u64)> = t
        .series
        .values()
        .map(|s| {
            let name = s
                .labels
                .iter()
                .find(|(k, _)| k == "span_name")
                .map(|(_, v)| v.clone());
            (name.unwrap_or_default(), s.lock().calls)
        })
        .collect();
    out.sort();
    out
}

fn count(table: &RwLock<Table>, spans: &[SpanRecord], max_names: usize, accepted: u64) -> u64 {
    let mut local = Local::default();
    {
        let t = table.read().unwrap();
        for s in spans {
            local.observe(&t, &[], max_names, s);
        }
    }
    local.commit(table, &[], max_names, accepted, 1)
}

#[test]
fn only_the_stored_prefix_of_a_write_counts() {
    let table = RwLock::new(Table::default());
    let spans: Vec<SpanRecord> = (0..5).map(|i| span("a", "op", 1, i + 1, None)).collect();
    // The rate took 3 of the 5.
    count(&table, &spans, 10, 3);
    assert_eq!(calls(&table), vec![("op".into(), 3)]);
    // A write refused whole counts nothing; a later one adds to the same series.
    count(&table, &spans, 10, 0);
    count(&table, &spans, 10, 5);
    assert_eq!(calls(&table), vec![("op".into(), 8)]);
}

#[test]
fn span_names_over_the_cap_collapse_across_writes() {
    let table = RwLock::new(Table::default());
    let names = ["x", "y", "z", "z"];
    let spans: Vec<SpanRecord> = names.iter().map(|n| span("a", n, 1, 1, None)).collect();
    assert_eq!(count(&table, &spans, 2, 4), 2);
    assert_eq!(
        calls(&table),
        vec![("__overflow__".into(), 2), ("x".into(), 1), ("y".into(), 1)]
    );
    // Known names still count under their own; another service has its own cap.
    let more = [
        span("a", "x", 1, 1, None),
        span("a", "w", 1, 1, None),
        span("b", "w", 1, 1, None),
    ];
    assert_eq!(count(&table, &more, 2, 3), 1);
    assert_eq!(
        calls(&table),
        vec![
            ("__overflow__".into(), 3),
            ("w".into(), 1),
            ("x".into(), 2),
            ("y".into(), 1)
        ]
    );
}

fn halves(spans: &[SpanRecord]) -> Vec<super::servicegraph::Half> {
    let known = HashSet::new();
    let mut pending = HashSet::new();
    let mut nodes = Interner {
        known: &known,
        pending: &mut pending,
    };
    let mut scratch = String::new();
    spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| half(s, i as u32, &mut nodes, &mut scratch))
        .collect()
}

fn pair(d: &Done) -> (String, String, &'static str, bool) {
    (
        d.client.to_string(),
        d.server.to_string(),
        d.conn.as_str(),
        d.failed,
    )
}

#[test]
fn a_client_and_its_server_child_make_an_edge_in_either_order() {
    let client = span("a", "call", 3, 1, None);
    let mut server = span("b", "handle", 2, 2, Some(1));
    server.status_code = 2;
    let internal = span("b", "work", 1, 3, Some(2));
    for order in [[&client, &server], [&server, &client]] {
        let mut store = Store::default();
        let mut done = Vec::new();
        let hs = halves(&[order[0].clone(), internal.clone(), order[1].clone()]);
        assert_eq!(hs.len(), 2, "INTERNAL spans are no half");
        let ups: Vec<Upsert> = hs
            .into_iter()
            .map(|h| store.upsert(h, 0, 1_000, 10, &mut done))
            .collect();
        assert_eq!(ups, vec![Upsert::New, Upsert::Updated]);
        assert_eq!(
            done.iter().map(pair).collect::<Vec<_>>(),
            vec![("a".into(), "b".into(), "", true)]
        );
        assert_eq!(store.len(), 0);
    }
}

#[test]
fn expired_halves_make_virtual_nodes_as_tempo_does_or_are_counted() {
    let mut peer = span("a", "charge", 3, 1, None);
    peer.attributes = vec![("peer.service".into(), AnyValue::String("payments".into()))];
    let lone_client = span("a", "lost", 3, 2, None);
    let root_server = span("b", "entry", 2, 3, None);
    let child_server = span("b", "orphan", 2, 4, Some(9));
    let mut store = Store::default();
    let mut done = Vec::new();
    for h in halves(&[peer, lone_client, root_server, child_server]) {
        assert_eq!(store.upsert(h, 0, 1_000, 10, &mut done), Upsert::New);
    }
    let mut expired = [0; 6];
    store.expire(999, &mut done, &mut expired);
    assert!(
        done.is_empty() && store.len() == 4,
        "nothing before the wait ends"
    );
    store.expire(1_000, &mut done, &mut expired);
    let mut got: Vec<_> = done.iter().map(pair).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), "payments".into(), "virtual_node", false),
            ("user".into(), "b".into(), "virtual_node", false),
        ]
    );
    // The client without a peer and the server with a parent: expired, by kind.
    assert_eq!(expired, [0, 0, 1, 1, 0, 0]);
    assert_eq!(store.len(), 0);
}

#[test]
fn a_database_call_is_a_whole_edge_and_a_full_store_drops() {
    let mut db = span("a", "SELECT", 3, 1, None);
    db.attributes = vec![
        ("db.system".into(), AnyValue::String("postgresql".into())),
        ("server.address".into(), AnyValue::String("pg-main".into())),
    ];
    let mut store = Store::default();
    let mut done = Vec::new();
    let hs = halves(&[db, span("a", "x", 3, 2, None), span("a", "y", 3, 3, None)]);
    let ups: Vec<Upsert> = hs
        .into_iter()
        .map(|h| store.upsert(h, 0, 1_000, 1, &mut done))
        .collect();
    assert_eq!(ups, vec![Upsert::New, Upsert::New, Upsert::Dropped]);
    assert_eq!(
        done.iter().map(pair).collect::<Vec<_>>(),
        vec![("a".into(), "pg-main".into(), "database", false)]
    );
    assert_eq!(done[0].conn, Conn::Database);
    assert_eq!(store.len(), 1);
}
