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
//! the next [`SharedLists::prune`] (after each flush) or when the table reaches its bound,
//! so the table never keeps what no record needs for longer than a flush.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use crate::anyvalue::{AnyValue, Attributes};
use crate::records::Scope;

/// Entries at which a table first prunes; it then grows to twice the entries still held,
/// so a table of many live lists does not prune on every insert.
const FIRST_BOUND: usize = 1024;

/// Values of one type held once by content. A value that is not equal to itself (a NaN
/// attribute) is never matched and so never shared, which is only a lost saving.
#[derive(Debug)]
struct Table<T> {
    by_hash: HashMap<u64, Vec<Arc<T>>>,
    len: usize,
    bound: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            len: 0,
            bound: FIRST_BOUND,
        }
    }
}

impl<T: PartialEq> Table<T> {
    /// The held value equal to `v` (`hash` is its content hash), or `v`, now held.
    fn intern(&mut self, hash: u64, v: Arc<T>) -> Arc<T> {
        if let Some(held) = self
            .by_hash
            .get(&hash)
            .and_then(|b| b.iter().find(|h| ***h == *v))
        {
            return held.clone();
        }
        if self.len >= self.bound {
            self.prune();
            self.bound = (self.len * 2).max(FIRST_BOUND);
        }
        self.by_hash.entry(hash).or_default().push(v.clone());
        self.len += 1;
        v
    }

    /// Drops the values only this table holds.
    fn prune(&mut self) {
        self.by_hash.retain(|_, b| {
            b.retain(|v| Arc::strong_count(v) > 1);
            !b.is_empty()
        });
        self.len = self.by_hash.values().map(Vec::len).sum();
    }
}

/// The resource attribute lists and scopes of one signal's records in memory, one copy of
/// each content.
#[derive(Debug, Default)]
pub(crate) struct SharedLists {
    tables: Mutex<(Table<Attributes>, Table<Scope>)>,
}

impl SharedLists {
    /// The held list equal to `attrs`, or `attrs`, now held.
    pub(crate) fn resource(&self, attrs: Arc<Attributes>) -> Arc<Attributes> {
        let hash = hash_of(|h| hash_attributes(&attrs, h));
        self.lock().0.intern(hash, attrs)
    }

    /// The held scope equal to `scope`, or `scope`, now held.
    pub(crate) fn scope(&self, scope: Arc<Scope>) -> Arc<Scope> {
        let hash = hash_of(|h| {
            scope.name.hash(h);
            scope.version.hash(h);
        });
        self.lock().1.intern(hash, scope)
    }

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
}

impl<'a> Sharer<'a> {
    pub(crate) fn new(lists: &'a SharedLists) -> Self {
        Self {
            lists,
            resource: None,
            scope: None,
        }
    }

    /// Swaps a record's resource list and scope for the copies held.
    pub(crate) fn share(&mut self, (resource, scope): (&mut Arc<Attributes>, &mut Arc<Scope>)) {
        *resource = match &self.resource {
            Some((given, held)) if Arc::ptr_eq(given, resource) => held.clone(),
            _ => {
                let held = self.lists.resource(resource.clone());
                self.resource = Some((resource.clone(), held.clone()));
                held
            }
        };
        *scope = match &self.scope {
            Some((given, held)) if Arc::ptr_eq(given, scope) => held.clone(),
            _ => {
                let held = self.lists.scope(scope.clone());
                self.scope = Some((scope.clone(), held.clone()));
                held
            }
        };
    }
}

fn hash_of(f: impl FnOnce(&mut std::collections::hash_map::DefaultHasher)) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    f(&mut h);
    h.finish()
}

fn hash_attributes(attrs: &Attributes, h: &mut impl Hasher) {
    attrs.len().hash(h);
    for (k, v) in attrs {
        k.hash(h);
        hash_value(v, h);
    }
}

fn hash_value(v: &AnyValue, h: &mut impl Hasher) {
    std::mem::discriminant(v).hash(h);
    match v {
        AnyValue::String(s) => s.hash(h),
        AnyValue::Bool(b) => b.hash(h),
        AnyValue::Int(i) => i.hash(h),
        AnyValue::Double(d) => d.to_bits().hash(h),
        AnyValue::Bytes(b) => b.hash(h),
        AnyValue::Array(items) => {
            items.len().hash(h);
            for item in items {
                hash_value(item, h);
            }
        }
        AnyValue::KvList(kvs) => hash_attributes(kvs, h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pod: &str) -> Arc<Attributes> {
        Arc::new(vec![
            ("service.name".into(), AnyValue::String("api".into())),
            ("k8s.pod.name".into(), AnyValue::String(pod.into())),
            ("n".into(), AnyValue::Array(vec![AnyValue::Int(1)])),
        ])
    }

    #[test]
    fn equal_lists_become_one_and_different_ones_stay_apart() {
        let shared = SharedLists::default();
        let a = shared.resource(list("a"));
        let a2 = shared.resource(list("a"));
        let b = shared.resource(list("b"));
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(*b, *list("b"));
        let s = shared.scope(Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
        }));
        let s2 = shared.scope(Arc::new(Scope {
            name: "lib".into(),
            version: "1".into(),
        }));
        assert!(Arc::ptr_eq(&s, &s2));
        assert_eq!(shared.len(), (2, 1));
    }

    #[test]
    fn same_hash_different_content_is_not_merged() {
        let mut t = Table::<Attributes>::default();
        let a = t.intern(7, list("a"));
        let b = t.intern(7, list("b"));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(*t.intern(7, list("b")), *list("b"));
        assert_eq!(t.len, 2);
    }

    #[test]
    fn a_nan_list_is_kept_as_given() {
        let shared = SharedLists::default();
        let nan = || Arc::new(vec![("x".into(), AnyValue::Double(f64::NAN))]);
        let (a, b) = (shared.resource(nan()), shared.resource(nan()));
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn prune_drops_what_no_record_holds_and_the_bound_prunes_too() {
        let shared = SharedLists::default();
        let kept = shared.resource(list("kept"));
        drop(shared.resource(list("gone")));
        shared.prune();
        assert_eq!(shared.len().0, 1);
        assert!(Arc::ptr_eq(&kept, &shared.resource(list("kept"))));
        // Past the bound, lists no record holds go before the table grows.
        let mut t = Table::<Attributes>::default();
        let live: Vec<_> = (0..FIRST_BOUND / 2)
            .map(|i| t.intern(i as u64, list(&format!("live{i}"))))
            .collect();
        for i in 0..FIRST_BOUND {
            drop(t.intern(u64::MAX - i as u64, list(&format!("dead{i}"))));
        }
        assert!(t.len <= FIRST_BOUND, "{}", t.len);
        assert!(t.len >= live.len());
        for (i, l) in live.iter().enumerate() {
            assert!(Arc::ptr_eq(
                l,
                &t.intern(i as u64, list(&format!("live{i}")))
            ));
        }
    }
}
