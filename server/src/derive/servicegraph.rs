//! The service graph (Tempo's `modules/generator/processor/servicegraphs`): a CLIENT or
//! PRODUCER span and the SERVER or CONSUMER span whose parent it is make an edge
//! `client -> server`. Each is half an edge, kept in the tenant's [`Store`] under (trace
//! id, the client's span id) until its other half arrives, at most `service_graph_wait`
//! (Tempo's `wait`) and at most `service_graph_max_items` halves (Tempo's `max_items`;
//! over it a half is dropped and counted). An expired half still makes an edge when Tempo
//! would: a client half with a peer attribute (`peer.service`, `db.name`, `db.system`,
//! `db.system.name`) names its server, a root server half its client (the peer, or
//! `user`), with `connection_type="virtual_node"`; otherwise it is counted as expired by
//! its span kind. A client span with a database attribute is a whole edge at once
//! (`connection_type="database"`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use strata_engine::{SpanId, SpanRecord, TraceId};
use twox_hash::XxHash3_64;

use super::histogram::{Counts, EDGE_BUCKETS_NS};
use super::labels::{HashMapU64, KeyHash, find, text};

/// `traces_service_graph_request_total`.
pub(crate) const REQUEST_TOTAL: &str = "traces_service_graph_request_total";
/// `traces_service_graph_request_failed_total`.
pub(crate) const REQUEST_FAILED: &str = "traces_service_graph_request_failed_total";
/// `traces_service_graph_request_server_seconds` (a histogram).
pub(crate) const SERVER_SECONDS: &str = "traces_service_graph_request_server_seconds";
/// `traces_service_graph_request_client_seconds` (a histogram).
pub(crate) const CLIENT_SECONDS: &str = "traces_service_graph_request_client_seconds";

/// Tempo's default `peer_attributes`, searched in the span's attributes in order.
const PEER_ATTRIBUTES: [&str; 4] = ["peer.service", "db.name", "db.system", "db.system.name"];
/// Tempo's default `database_name_attributes`, searched in the resource, then the span.
const DATABASE_ATTRIBUTES: [&str; 4] = ["db.namespace", "db.name", "db.system", "db.system.name"];

/// The `connection_type` label (Tempo's `store.ConnectionType`; empty: no label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Conn {
    /// A plain request.
    #[default]
    Unknown,
    /// Through a queue (PRODUCER/CONSUMER).
    Messaging,
    /// To a database.
    Database,
    /// To or from a node that sends no spans.
    Virtual,
}

impl Conn {
    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "",
            Self::Messaging => "messaging_system",
            Self::Database => "database",
            Self::Virtual => "virtual_node",
        }
    }
}

/// Node names (services, peers) shared as `Arc<str>`: the tenant's set, read locked for
/// a write, and the names the write adds.
pub(crate) struct Interner<'a> {
    pub(crate) known: &'a HashSet<Arc<str>>,
    pub(crate) pending: &'a mut HashSet<Arc<str>>,
}

impl Interner<'_> {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.known.get(s).or_else(|| self.pending.get(s)) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.pending.insert(a.clone());
        a
    }
}

/// Where a half waits: trace id, the client's span id, and whether it is a root server
/// span (no parent; its span id is then zero).
type Key = (TraceId, SpanId, bool);

/// Half an edge, from one span.
#[derive(Debug, Clone)]
pub(crate) struct Half {
    /// Its span's position among the write's observed spans.
    pub(crate) idx: u32,
    key: Key,
    client: bool,
    service: Arc<str>,
    dur_ns: u64,
    failed: bool,
    conn: Conn,
    peer: Option<Arc<str>>,
    /// A database call: the server's name, when the span gives one.
    database: Option<Option<Arc<str>>>,
    kind: i32,
}

/// The half of an edge `span` is, if it is a client, producer, server or consumer span.
pub(crate) fn half(
    span: &SpanRecord,
    idx: u32,
    nodes: &mut Interner<'_>,
    scratch: &mut String,
) -> Option<Half> {
    let (client, conn) = match span.kind {
        3 => (true, Conn::Unknown),
        4 => (true, Conn::Messaging),
        2 => (false, Conn::Unknown),
        5 => (false, Conn::Messaging),
        _ => return None,
    };
    // Tempo skips spans of a resource without `service.name`.
    if span.service_name.is_empty() {
        return None;
    }
    let key = if client {
        (span.trace_id, span.span_id, false)
    } else {
        match span.parent_span_id {
            Some(p) => (span.trace_id, p, false),
            None => (span.trace_id, [0; 8], true),
        }
    };
    let span_attrs = [&span.attributes];
    let peer = PEER_ATTRIBUTES
        .iter()
        .find_map(|k| find(k, &span_attrs))
        .map(|v| nodes.get(text(v, scratch)));
    let database = if client {
        database_server(span, nodes, scratch)
    } else {
        None
    };
    Some(Half {
        idx,
        key,
        client,
        service: nodes.get(&span.service_name),
        dur_ns: u64::try_from(span.end_ns.saturating_sub(span.start_ns)).unwrap_or(0),
        failed: span.status_code == 2,
        conn,
        peer,
        database,
        kind: span.kind,
    })
}

/// Tempo's `upsertDatabaseRequest`: `None` when the span names no database; else the
/// server's name from `peer.service`, `server.address`, `network.peer.address[:port]`,
/// or the database name.
fn database_server(
    span: &SpanRecord,
    nodes: &mut Interner<'_>,
    scratch: &mut String,
) -> Option<Option<Arc<str>>> {
    let lists = [&*span.resource_attributes, &span.attributes];
    let db = DATABASE_ATTRIBUTES.iter().find_map(|k| find(k, &lists))?;
    if let Some(v) = find("peer.service", &lists).or_else(|| find("server.address", &lists)) {
        return Some(Some(nodes.get(text(v, scratch))));
    }
    if let Some(host) = find("network.peer.address", &lists) {
        let mut name = text(host, scratch).to_owned();
        if let Some(port) = find("network.peer.port", &lists) {
            name.push(':');
            name.push_str(text(port, scratch));
        }
        return Some(Some(nodes.get(&name)));
    }
    let name = text(db, scratch);
    Some((!name.is_empty()).then(|| nodes.get(name)))
}

/// An edge waiting for its other half.
#[derive(Debug)]
struct Edge {
    generation: u64,
    client: Option<Arc<str>>,
    server: Option<Arc<str>>,
    client_ns: u64,
    server_ns: u64,
    failed: bool,
    conn: Conn,
    peer: Option<Arc<str>>,
    kind: i32,
    root: bool,
}

impl Edge {
    fn apply(&mut self, h: Half) {
        self.kind = h.kind;
        self.conn = h.conn;
        self.failed |= h.failed;
        if h.peer.is_some() {
            self.peer = h.peer;
        }
        if h.client {
            self.client_ns = h.dur_ns;
            self.client = Some(h.service);
            if let Some(server) = h.database {
                self.conn = Conn::Database;
                self.server_ns = h.dur_ns;
                if server.is_some() {
                    self.server = server;
                }
            }
        } else {
            self.server_ns = h.dur_ns;
            self.server = Some(h.service);
        }
    }

    fn done(&self) -> Option<Done> {
        Some(Done {
            client: self.client.clone()?,
            server: self.server.clone()?,
            conn: self.conn,
            failed: self.failed,
            client_ns: self.client_ns,
            server_ns: self.server_ns,
        })
    }
}

/// A completed edge, to count.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) client: Arc<str>,
    pub(crate) server: Arc<str>,
    pub(crate) conn: Conn,
    pub(crate) failed: bool,
    pub(crate) client_ns: u64,
    pub(crate) server_ns: u64,
}

/// What [`Store::upsert`] did with a half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Upsert {
    /// It started an edge (Tempo's `edges` count).
    New,
    /// It met its other half or updated a waiting edge.
    Updated,
    /// The store was full: dropped.
    Dropped,
}

/// A tenant's waiting halves, oldest first for expiry.
#[derive(Debug, Default)]
pub(crate) struct Store {
    map: HashMap<Key, Edge, BuildHasherDefault<XxHash3_64>>,
    order: VecDeque<(Key, u64, i64)>,
    generation: u64,
}

impl Store {
    /// Halves waiting.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Adds a half at `now_ms`: completes its edge into `done`, or waits until
    /// `now_ms + wait_ms`, or is dropped when `max_items` halves wait.
    pub(crate) fn upsert(
        &mut self,
        h: Half,
        now_ms: i64,
        wait_ms: i64,
        max_items: usize,
        done: &mut Vec<Done>,
    ) -> Upsert {
        let key = h.key;
        if let Some(e) = self.map.get_mut(&key) {
            e.apply(h);
            if let Some(d) = e.done() {
                done.push(d);
                // Its entry in `order` is skipped when it comes up.
                self.map.remove(&key);
            }
            return Upsert::Updated;
        }
        let mut e = Edge {
            generation: 0,
            client: None,
            server: None,
            client_ns: 0,
            server_ns: 0,
            failed: false,
            conn: Conn::Unknown,
            peer: None,
            kind: 0,
            root: key.2,
        };
        e.apply(h);
        if let Some(d) = e.done() {
            done.push(d);
            return Upsert::New;
        }
        if self.map.len() >= max_items {
            return Upsert::Dropped;
        }
        self.generation += 1;
        e.generation = self.generation;
        self.order
            .push_back((key, self.generation, now_ms.saturating_add(wait_ms)));
        self.map.insert(key, e);
        // Entries of edges completed since stay in `order` until they come up; keep them
        // from piling up under a high rate (amortized: at most `max_items` remain).
        if self.order.len() > 2 * max_items.max(1024) {
            let map = &self.map;
            self.order
                .retain(|(k, g, _)| map.get(k).is_some_and(|e| e.generation == *g));
        }
        Upsert::New
    }

    /// Expires the halves whose wait ended by `now_ms`: those that still make an edge (see
    /// the module docs) go into `done`; the others are counted in `expired` by the span
    /// kind of their half (OTLP kind number).
    pub(crate) fn expire(&mut self, now_ms: i64, done: &mut Vec<Done>, expired: &mut [u64; 6]) {
        while let Some(&(key, generation, at)) = self.order.front() {
            if at > now_ms {
                break;
            }
            self.order.pop_front();
            if self
                .map
                .get(&key)
                .is_none_or(|e| e.generation != generation)
            {
                continue;
            }
            let Some(mut e) = self.map.remove(&key) else {
                continue;
            };
            e.conn = Conn::Virtual;
            let made = if e.client.is_none() {
                if e.root {
                    e.client = Some(e.peer.clone().unwrap_or_else(|| Arc::from("user")));
                    e.done()
                } else {
                    None
                }
            } else if e.server.is_none() && e.peer.is_some() {
                e.server = e.peer.clone();
                e.done()
            } else {
                None
            };
            match made {
                Some(d) => done.push(d),
                None => expired[usize::try_from(e.kind).unwrap_or(0).min(5)] += 1,
            }
        }
    }
}

/// One edge series: its labels and counts (cumulative).
#[derive(Debug)]
pub(crate) struct EdgeSeries {
    /// `client`, `server` and `connection_type` (left out when empty).
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) total: u64,
    pub(crate) failed: u64,
    pub(crate) server: Counts,
    pub(crate) client: Counts,
    pub(crate) last_ms: i64,
    /// Whether it has been written once; and its failed counter.
    pub(crate) emitted: bool,
    pub(crate) failed_emitted: bool,
}

/// Counts completed edges into `series` at `now_ms`.
pub(crate) fn count(series: &mut HashMapU64<EdgeSeries>, done: &[Done], now_ms: i64) {
    for d in done {
        let mut h = KeyHash::default();
        h.add(&d.client);
        h.add(&d.server);
        h.add(d.conn.as_str());
        let s = series.entry(h.finish()).or_insert_with(|| {
            let mut labels = vec![
                ("client".to_owned(), d.client.to_string()),
                ("server".to_owned(), d.server.to_string()),
            ];
            if d.conn != Conn::Unknown {
                labels.push(("connection_type".to_owned(), d.conn.as_str().to_owned()));
            }
            labels.retain(|(_, v)| !v.is_empty());
            EdgeSeries {
                labels,
                total: 0,
                failed: 0,
                server: Counts::new(EDGE_BUCKETS_NS.len()),
                client: Counts::new(EDGE_BUCKETS_NS.len()),
                last_ms: now_ms,
                emitted: false,
                failed_emitted: false,
            }
        });
        s.total += 1;
        if d.failed {
            s.failed += 1;
        }
        s.server.observe(&EDGE_BUCKETS_NS, d.server_ns);
        s.client.observe(&EDGE_BUCKETS_NS, d.client_ns);
        s.last_ms = s.last_ms.max(now_ms);
    }
}
