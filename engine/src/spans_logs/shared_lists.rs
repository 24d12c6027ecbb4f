//! One copy in memory of each resource attribute list and scope that records hold, however
//! many writes sent it.
//!
//! A request's records of one resource share one list already ([`crate::SpanRecord`]'s
//! `Arc`), but every request brings its own copy: a server of 8 services × 3 pods sending
//! requests of ~1,000 spans holds ~24 copies per request, so a flush of 64 k spans met
//! ~1,500 distinct lists of the same 24 contents, and rendered each again in every batch
//! it built (`signal_arrow::AttrBuilder::append_shared` renders once per distinct list).
//! A write now swaps each list it brings for the copy already held, if one is:
//! [`SharedLists`] keeps them by content.
//!
//! Entries are `Arc`s the records hold too; one only the table still holds is dropped at
//! the next [`SharedLists::prune`] (after each flush) or when the table reaches its
//! bound, so the table never keeps what no record needs for longer than a flush. The
//! bound is firm: a sender whose every request has a resource of its own (an instance id
//! per invocation) fills the table with lists the head still holds; past [`BOUND`] they
//! are kept as given until the next flush, so the table's memory (a list's WAL bytes and
//! an `Arc` per entry, outside the memory budget) stays under ~2 MB for resources of the
//! bench's size (11 attributes, ~400 bytes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::model::anyvalue::Attributes;
use crate::model::records::Scope;
use crate::wal_records::spans_logs as wal_spans_logs;

/// Most entries a table holds.
const BOUND: usize = 4096;

/// A held value and its content bytes.
type Entry<T> = (Box<[u8]>, Arc<T>);

/// Values of one type held once by content: each with its content bytes
/// ([`resource_bytes`], [`scope_bytes`]), which a lookup compares (one `memcmp`, where
/// comparing lists would follow a pointer per string) after the bytes' hash.
#[derive(Debug)]
struct Table<T> {
    by_hash: HashMap<u64, Vec<Entry<T>>>,
    len: usize,
    /// At [`BOUND`] with every entry held by records: nothing is added (nor pruned again)
    /// until the next [`Table::prune`] from outside.
    full: bool,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            len: 0,
            full: false,
        }
    }
}

impl<T> Table<T> {
    /// The held value whose content bytes are `bytes`, or `v` (of those bytes), now held.
    fn intern(&mut self, bytes: &[u8], v: Arc<T>) -> Arc<T> {
        let hash = twox_hash::XxHash3_64::oneshot(bytes);
        if let Some((_, held)) = self
            .by_hash
            .get(&hash)
            .and_then(|b| b.iter().find(|(k, _)| **k == *bytes))
        {
            return held.clone();
        }
        if self.len >= BOUND {
            if self.full {
                return v;
            }
            self.prune();
            if self.len >= BOUND {
                self.full = true;
                return v;
            }
        }
        self.by_hash
            .entry(hash)
            .or_default()
            .push((bytes.into(), v.clone()));
        self.len += 1;
        v
    }

    /// Drops the values only this table holds.
    fn prune(&mut self) {
        self.by_hash.retain(|_, b| {
            b.retain(|(_, v)| Arc::strong_count(v) > 1);
            !b.is_empty()
        });
        self.len = self.by_hash.values().map(Vec::len).sum();
        self.full = false;
    }
}

/// The resource attribute lists and scopes of one signal's records in memory, one copy of
/// each content.
#[derive(Debug, Default)]
pub(crate) struct SharedLists {
    tables: Mutex<(Table<Attributes>, Table<Scope>)>,
}

impl SharedLists {
    /// Drops the lists and scopes no record holds any more.
    pub(crate) fn prune(&self) {
        let mut t = self.lock();
        t.0.prune();
        t.1.prune();
    }

    /// Lists and scopes held (for tests).
    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let t = self.lock();
        (t.0.len, t.1.len)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Table<Attributes>, Table<Scope>)> {
        // Every change is one map operation: a panic elsewhere leaves the tables whole.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One write's (or one replayed WAL record's) use of [`SharedLists`]: the records of one
/// request come in runs sharing a list, so the last list swapped is remembered and the
/// table is looked up once per run, not per record.
pub(crate) struct Sharer<'a> {
    lists: &'a SharedLists,
    resource: Option<(Arc<Attributes>, Arc<Attributes>)>,
    scope: Option<(Arc<Scope>, Arc<Scope>)>,
    /// Content bytes of the value being looked up (reused).
    bytes: Vec<u8>,
}

impl<'a> Sharer<'a> {
    pub(crate) fn new(lists: &'a SharedLists) -> Self {
        Self {
            lists,
            resource: None,
            scope: None,
            bytes: Vec::new(),
        }
    }

    /// Swaps a record's resource list and scope for the copies held.
    pub(crate) fn share(&mut self, (resource, scope): (&mut Arc<Attributes>, &mut Arc<Scope>)) {
        let (lists, bytes) = (self.lists, &mut self.bytes);
        swap(&mut self.resource, resource, |v| {
            bytes.clear();
            resource_bytes(v, bytes);
            lists.lock().0.intern(bytes, v.clone())
        });
        swap(&mut self.scope, scope, |v| {
            bytes.clear();
            scope_bytes(v, bytes);
            lists.lock().1.intern(bytes, v.clone())
        });
    }
}

/// Replaces `v` by the copy held: the last one found if `v` is the list it was found for
/// (`last`: as given, as held), else what `find` returns, remembered.
fn swap<T>(
    last: &mut Option<(Arc<T>, Arc<T>)>,
    v: &mut Arc<T>,
    find: impl FnOnce(&Arc<T>) -> Arc<T>,
) {
    *v = match last {
        Some((given, held)) if Arc::ptr_eq(given, v) => held.clone(),
        _ => {
            let held = find(v);
            *last = Some((v.clone(), held.clone()));
            held
        }
    };
}

/// Bytes that equal another list's exactly when the lists are equal: the WAL's encoding
/// of a list (`signal_codec`; length-prefixed and tagged, so it decodes back to one list
/// only, and a double by its bits, so equal NaNs share too).
fn resource_bytes(attrs: &Attributes, out: &mut Vec<u8>) {
    wal_spans_logs::put_attrs(out, attrs);
}

fn scope_bytes(scope: &Scope, out: &mut Vec<u8>) {
    wal_spans_logs::put_bytes(out, scope.name.as_bytes());
    wal_spans_logs::put_bytes(out, scope.version.as_bytes());
    wal_spans_logs::put_attrs(out, &scope.attributes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::anyvalue::AnyValue;

    fn list(pod: &str) -> Arc<Attributes> {
        Arc::new(vec![
            ("service.name".into(), AnyValue::String("api".into())),
            ("k8s.pod.name".into(), AnyValue::String(pod.into())),
            ("n".into(), AnyValue::Array(vec![AnyValue::Int(1)])),
        ])
    }

    fn scope(name: &str) -> Arc<Scope> {
        Arc::new(Scope {
            name: name.into(),
            version: "1".into(),
            ..Scope::default()
        })
    }

    /// What one record of `resource` and `scope` holds after a write's sharer.
    fn shared(
        lists: &SharedLists,
        resource: Arc<Attributes>,
        scope: Arc<Scope>,
    ) -> (Arc<Attributes>, Arc<Scope>) {
        let (mut r, mut s) = (resource, scope);
        Sharer::new(lists).share((&mut r, &mut s));
        (r, s)
    }

    #[test]
    fn equal_lists_become_one_and_different_ones_stay_apart() {
        let lists = SharedLists::default();
        let (a, s) = shared(&lists, list("a"), scope("lib"));
        let (a2, s2) = shared(&lists, list("a"), scope("lib"));
        let (b, s3) = shared(&lists, list("b"), scope("other"));
        assert!(Arc::ptr_eq(&a, &a2) && Arc::ptr_eq(&s, &s2));
        assert!(!Arc::ptr_eq(&a, &b) && !Arc::ptr_eq(&s, &s3));
        assert_eq!((&*b, &*s3), (&*list("b"), &*scope("other")));
        assert_eq!(lists.len(), (2, 2));
    }

    #[test]
    fn content_bytes_tell_every_difference_apart() {
        let kv = |k: &str, v: AnyValue| vec![(k.to_owned(), v)];
        let lists = [
            kv("a", AnyValue::String("bc".into())),
            kv("ab", AnyValue::String("c".into())),
            kv("a", AnyValue::Int(1)),
            kv("a", AnyValue::Bool(true)),
            kv("a", AnyValue::Double(1.0)),
            kv("a", AnyValue::Double(f64::NAN)),
            kv("a", AnyValue::Bytes(b"bc".to_vec())),
            kv("a", AnyValue::Array(vec![AnyValue::String("bc".into())])),
            kv("a", AnyValue::KvList(kv("b", AnyValue::String("c".into())))),
            kv("a", AnyValue::KvList(vec![])),
            kv("a", AnyValue::Array(vec![])),
            vec![],
        ];
        let bytes: Vec<Vec<u8>> = lists
            .iter()
            .map(|l| {
                let mut b = Vec::new();
                resource_bytes(l, &mut b);
                b
            })
            .collect();
        for (i, x) in bytes.iter().enumerate() {
            for (j, y) in bytes.iter().enumerate() {
                assert_eq!(i == j, x == y, "{:?} against {:?}", lists[i], lists[j]);
            }
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        scope_bytes(
            &Scope {
                name: "ab".into(),
                version: "c".into(),
                ..Scope::default()
            },
            &mut x,
        );
        scope_bytes(
            &Scope {
                name: "a".into(),
                version: "bc".into(),
                ..Scope::default()
            },
            &mut y,
        );
        assert_ne!(x, y);
        // Scopes that differ by their attributes only are apart too.
        let with = |attributes: Attributes| {
            let mut b = Vec::new();
            let s = Scope {
                name: "a".into(),
                attributes,
                ..Scope::default()
            };
            scope_bytes(&s, &mut b);
            b
        };
        assert_ne!(with(Vec::new()), with(kv("k", AnyValue::Int(1))));
        assert_ne!(
            with(kv("k", AnyValue::Int(1))),
            with(kv("k", AnyValue::Int(2)))
        );
    }

    #[test]
    fn a_nan_list_is_shared_by_its_bits() {
        let lists = SharedLists::default();
        let nan = || Arc::new(vec![("x".into(), AnyValue::Double(f64::NAN))]);
        let (a, _) = shared(&lists, nan(), scope("s"));
        let (b, _) = shared(&lists, nan(), scope("s"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn one_hash_two_contents_stay_two() {
        // Two contents in one bucket (as a hash collision would put them).
        let mut t = Table::<Attributes>::default();
        let a = list("a");
        t.by_hash
            .entry(twox_hash::XxHash3_64::oneshot(b"B"))
            .or_default()
            .push((b"A".as_slice().into(), a.clone()));
        t.len = 1;
        let b = t.intern(b"B", list("b"));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(Arc::ptr_eq(&b, &t.intern(b"B", list("b"))));
        assert_eq!(t.len, 2);
    }

    #[test]
    fn prune_drops_what_no_record_holds_and_the_bound_prunes_too() {
        let lists = SharedLists::default();
        let (kept, _) = shared(&lists, list("kept"), scope("s"));
        drop(shared(&lists, list("gone"), scope("gone")));
        lists.prune();
        assert_eq!(lists.len(), (1, 0));
        assert!(Arc::ptr_eq(
            &kept,
            &shared(&lists, list("kept"), scope("s")).0
        ));
        // At the bound, lists no record holds make room.
        let mut t = Table::<Attributes>::default();
        let key = |s: String| s.into_bytes();
        let live: Vec<_> = (0..BOUND / 2)
            .map(|i| t.intern(&key(format!("live{i}")), list(&format!("live{i}"))))
            .collect();
        for i in 0..BOUND {
            drop(t.intern(&key(format!("dead{i}")), list(&format!("dead{i}"))));
        }
        assert!(t.len <= BOUND && t.len >= live.len(), "{}", t.len);
        for (i, l) in live.iter().enumerate() {
            let again = t.intern(&key(format!("live{i}")), list("x"));
            assert!(Arc::ptr_eq(l, &again));
        }
        // Full of lists records hold: new ones are kept as given (equal contents are not
        // shared), the table stays at the bound, until a prune from outside.
        let more: Vec<_> = (0..BOUND)
            .map(|i| t.intern(&key(format!("more{i}")), list(&format!("more{i}"))))
            .collect();
        assert_eq!(t.len, BOUND);
        let (a, b) = (list("over"), list("over"));
        let (a2, b2) = (t.intern(b"over", a.clone()), t.intern(b"over", b.clone()));
        assert!(Arc::ptr_eq(&a, &a2) && Arc::ptr_eq(&b, &b2) && t.len == BOUND);
        drop(more);
        t.prune();
        assert_eq!(t.len, live.len());
        let c = t.intern(b"over", list("over"));
        assert!(Arc::ptr_eq(&c, &t.intern(b"over", list("over"))));
    }
}
