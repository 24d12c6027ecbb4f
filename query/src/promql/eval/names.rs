//! Name removal: where a node's marked `__name__` (and `__type__`, `__unit__`) go, and the
//! duplicate checks that removal needs, done only where someone reads the names.

use std::collections::HashMap;

use promql_parser::parser::Expr;

use super::Evaluator;
use super::Val;
use crate::promql::error::{Result, exec};
use crate::promql::value::{Labels, METRIC_NAME, Sample, drop_name};

/// A node's output as far as its names go: each sample's labels and removal mark.
pub(super) type Marked = Vec<(Labels, bool)>;

/// Who reads a node's output labels, as far as removing its marked names matters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum NameUse {
    /// Anything: names are removed at the node, Prometheus's default order.
    #[default]
    Any,
    /// Only an aggregation's `by` labels, none of them `__name__`, `__type__` or
    /// `__unit__`: the removal would not change what it reads, so marked samples keep
    /// their labels and only the duplicates the removal would make are rejected.
    GroupKey,
    /// The query's result: the end of evaluation removes marked names and rejects
    /// duplicates exactly as the node would ([`super::finish_vector`], `final_labels`).
    Result,
}

impl Evaluator<'_> {
    /// `s`'s labels after delayed name removal, interned: one address per label set, the
    /// same at every step for a series read from storage.
    pub(crate) fn final_labels(&mut self, s: &Sample) -> Labels {
        if s.drop_name {
            self.labels.derive(DROP_NAME_SITE, &s.labels, |l| {
                let mut l = l.clone();
                drop_name(&mut l);
                l
            })
        } else {
            self.interned(&s.labels)
        }
    }

    /// Whether names are removed at the end of evaluation
    /// ([`super::QueryOptions::delayed_name_removal`]).
    pub(crate) fn delayed_name_removal(&self) -> bool {
        self.settings.delayed_name_removal
    }

    /// The output of a function or operator, with Prometheus's default name removal done:
    /// the samples it marked (`drop_name`) lose `__name__` (and `__type__`, `__unit__`)
    /// here, before an enclosing expression sees them, and an output that then holds one
    /// label set twice fails as Prometheus fails it. The labels come from the
    /// `LabelCache`, so a series' derived labels are computed once per query and the
    /// check compares addresses. With delayed removal the marks are left for the end.
    ///
    /// When only the query's result or an aggregation's group key reads the output
    /// (`name_use`), the removal is left to them, which gives the same answer without
    /// building every series' labels (for a group key, in an instant query, outside
    /// subqueries; the duplicate check is kept).
    pub(super) fn settle_names(&mut self, v: Val, name_use: NameUse, node: &Expr) -> Result<Val> {
        if self.settings.delayed_name_removal || name_use == NameUse::Result {
            return Ok(v);
        }
        let Val::Vector(mut v) = v else {
            return Ok(v);
        };
        let site = node as *const Expr as usize;
        // Inputs are unique label sets, so only a removal can make two outputs equal;
        // when nothing is removed (the name went at an inner node), nothing is to do.
        if !v
            .iter()
            .any(|s| s.drop_name && s.labels.has_metric_metadata())
        {
            for s in &mut v {
                s.drop_name = false;
            }
            return Ok(Val::Vector(v));
        }
        if name_use == NameUse::GroupKey {
            // Evaluated once, hashing every sample's labels is the whole check; at many
            // steps (a range query, a subquery) the output is mostly the same series at
            // every step, so it is checked again only when its label sets change.
            let once = self.single_step();
            if !once
                && self
                    .unique_outputs
                    .get(&site)
                    .is_some_and(|prev| same_marks(prev, &v))
            {
                return Ok(Val::Vector(v));
            }
            if unique_once_named(&v)? {
                if !once {
                    let kept = v.iter().map(|s| (s.labels.clone(), s.drop_name)).collect();
                    self.unique_outputs.insert(site, kept);
                }
                return Ok(Val::Vector(v));
            }
        }
        // At many steps the same series usually come back: reuse the labels settled at
        // the last step whose output had the same label sets (checked then).
        let many = !self.single_step();
        if many
            && let Some((prev, settled)) = self.settled_outputs.get(&site)
            && same_marks(prev, &v)
        {
            for (s, l) in v.iter_mut().zip(settled) {
                s.labels = l.clone();
                s.drop_name = false;
            }
            return Ok(Val::Vector(v));
        }
        let input: Marked = if many {
            v.iter().map(|s| (s.labels.clone(), s.drop_name)).collect()
        } else {
            Vec::new()
        };
        for s in &mut v {
            s.labels = if s.drop_name {
                self.labels.derive(DROP_NAME_SITE, &s.labels, |l| {
                    let mut l = l.clone();
                    drop_name(&mut l);
                    l
                })
            } else {
                self.interned(&s.labels)
            };
            s.drop_name = false;
        }
        self.check_unique(&v)?;
        if many {
            let settled = v.iter().map(|s| s.labels.clone()).collect();
            self.settled_outputs.insert(site, (input, settled));
        }
        Ok(Val::Vector(v))
    }

    /// Fails with Prometheus's error when two samples of `v` share a label set. Every
    /// sample's labels must be interned ([`Self::interned`], `LabelCache::derive`): equal
    /// label sets are then one address.
    pub(crate) fn check_unique(&mut self, v: &[Sample]) -> Result<()> {
        if v.len() < 2 {
            return Ok(());
        }
        self.seen.clear();
        for s in v {
            if !self.seen.insert(s.labels.ptr()) {
                return exec("vector cannot contain metrics with the same labelset");
            }
        }
        Ok(())
    }

    /// `l` interned (see `LabelCache`).
    pub(crate) fn interned(&mut self, l: &Labels) -> Labels {
        self.labels.derive(IDENTITY_SITE, l, Labels::clone)
    }
}

/// `LabelCache` site of delayed name removal (`__name__`, `__type__`, `__unit__`).
const DROP_NAME_SITE: usize = 1;
/// `LabelCache` site of interning a label set as it is.
const IDENTITY_SITE: usize = 2;
/// `LabelCache` site of removing only `__name__` (a subquery's duplicate check).
pub(super) const DROP_NAME_ONLY_SITE: usize = 3;

/// Whether `v` holds the very label sets (by address) and marks of `prev`.
fn same_marks(prev: &Marked, v: &[Sample]) -> bool {
    prev.len() == v.len()
        && prev
            .iter()
            .zip(v)
            .all(|((l, d), s)| l.ptr() == s.labels.ptr() && *d == s.drop_name)
}

/// Whether the samples of `v` stay distinct once the marked ones lose `__name__`,
/// `__type__` and `__unit__`: `Ok(true)` if they do, an error (Prometheus's) if two become
/// equal, `Ok(false)` if two hashes met without the label sets being equal (then the caller
/// settles the labels and checks them exactly). Hashes the labels, allocates nothing per
/// sample.
fn unique_once_named(v: &[Sample]) -> Result<bool> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    fn kept(s: &Sample) -> impl Iterator<Item = (&str, &str)> {
        let drop = s.drop_name;
        s.labels
            .iter()
            .filter(move |(n, _)| !(drop && matches!(*n, METRIC_NAME | "__type__" | "__unit__")))
    }
    if v.len() < 2 {
        return Ok(true);
    }
    // The samples are distinct label sets: if every one loses the same name (and type and
    // unit), they stay distinct. That is the common case (one metric's series), checked
    // without hashing.
    fn meta(s: &Sample) -> (&str, &str, &str) {
        (
            s.labels.get(METRIC_NAME),
            s.labels.get("__type__"),
            s.labels.get("__unit__"),
        )
    }
    let first = meta(&v[0]);
    if v.iter().all(|s| s.drop_name && meta(s) == first) {
        return Ok(true);
    }
    let mut seen: HashMap<u64, usize> = HashMap::with_capacity(v.len());
    for (i, s) in v.iter().enumerate() {
        let mut h = DefaultHasher::new();
        for pair in kept(s) {
            pair.hash(&mut h);
        }
        match seen.entry(h.finish()) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                if kept(&v[*e.get()]).eq(kept(s)) {
                    return exec("vector cannot contain metrics with the same labelset");
                }
                return Ok(false);
            }
        }
    }
    Ok(true)
}
