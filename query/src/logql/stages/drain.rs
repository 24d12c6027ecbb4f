//! Drain log clustering for `/loki/api/v1/patterns`, following Loki's
//! pkg/pattern/drain (itself after the Drain paper and faceair/drain):
//!
//! * lines are tokenized per stream format ([`LogFormat`]); lines with fewer
//!   than 4 or more than 80 tokens, or longer than
//!   [`DrainConfig::max_line_length`] bytes, are skipped;
//! * a prefix tree keyed by token count and the first
//!   `log_cluster_depth - 2` tokens (tokens containing digits go to the `<_>`
//!   branch, at most `max_children` children per node) leads to candidate
//!   clusters; the most similar one (share of equal tokens, ties broken by
//!   more `<_>`) is chosen when its similarity is at least `sim_th` (0.3);
//!   differing tokens of the template then become `<_>`;
//! * at most `max_clusters` clusters are kept, least recently used first out;
//!   when more than `max_eviction_ratio` of the added clusters were evicted,
//!   training pauses for 10 minutes (of line time);
//! * each cluster counts lines in `sample_interval` buckets.
//!
//! Memory is bounded by `max_clusters`, `max_samples_per_cluster` and the tree
//! (pruned of dead branches as clusters are evicted).

use std::collections::HashMap;

#[path = "drain_tokenizer.rs"]
pub mod tokenizer;

pub use tokenizer::{LogFormat, PARAM, detect_format};
use tokenizer::{Tokens, dedup_placeholders};

/// Drain parameters; [`Default`] gives Loki's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainConfig {
    /// Tree depth incl. root and token-count layer (Loki 30; min 3).
    pub log_cluster_depth: usize,
    /// Minimum similarity to join an existing cluster (Loki 0.3).
    pub sim_th: f64,
    /// Maximum children per tree node (Loki 15; min 1).
    pub max_children: usize,
    /// Maximum clusters kept (Loki 300; min 1).
    pub max_clusters: usize,
    /// Eviction/added ratio above which training pauses (Loki 0.25).
    pub max_eviction_ratio: f64,
    /// Lines longer than this many bytes are skipped (Loki 3000).
    pub max_line_length: usize,
    /// Sample bucket width in nanoseconds (Loki 10s).
    pub sample_interval_ns: i64,
    /// Samples kept per cluster, oldest dropped first (1h of 10s buckets).
    pub max_samples_per_cluster: usize,
    /// Stream format; `None` detects it from the first trained line.
    pub format: Option<LogFormat>,
    /// JSON fields whose text is tokenized (Loki's default list).
    pub json_fields: Vec<String>,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            log_cluster_depth: 30,
            sim_th: 0.3,
            max_children: 15,
            max_clusters: 300,
            max_eviction_ratio: 0.25,
            max_line_length: 3000,
            sample_interval_ns: 10_000_000_000,
            max_samples_per_cluster: 360,
            format: None,
            json_fields: ["log", "message", "msg", "msg_", "_msg", "content"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// A pattern found by [`Drain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Pattern text, variable parts as `<_>` (Loki's form).
    pub pattern: String,
    /// Lines trained into this cluster.
    pub count: u64,
    /// Bytes of those lines.
    pub volume: u64,
    /// `(bucket start ns, lines)` per sample interval, ascending.
    pub buckets: Vec<(i64, u64)>,
}

impl Cluster {
    /// Line counts re-bucketed to `step_ns` (bucket start = timestamp
    /// truncated to a multiple of the step); empty buckets are omitted.
    pub fn samples(&self, step_ns: i64) -> Vec<(i64, u64)> {
        let step = step_ns.max(1);
        let mut out: Vec<(i64, u64)> = Vec::new();
        for &(ts, n) in &self.buckets {
            let b = ts.saturating_sub(ts.rem_euclid(step));
            match out.last_mut() {
                Some(last) if last.0 == b => last.1 += n,
                _ => out.push((b, n)),
            }
        }
        out
    }
}

#[derive(Debug)]
struct Entry {
    tokens: Tokens,
    count: u64,
    volume: u64,
    buckets: Vec<(i64, u64)>,
    last_used: u64,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    cluster_ids: Vec<u64>,
}

impl Node {
    fn child(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn child_index(&self, key: &str) -> Option<usize> {
        self.children.iter().position(|(k, _)| k == key)
    }

    fn add_child(&mut self, key: &str) -> usize {
        self.children.push((key.to_string(), Node::default()));
        self.children.len() - 1
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        1 + self.children.iter().map(|(_, n)| n.count()).sum::<usize>()
    }
}

#[derive(Debug, Default)]
struct Limiter {
    added: u64,
    evicted: u64,
    blocked_until: Option<i64>,
}

impl Limiter {
    const BLOCK_NS: i64 = 10 * 60 * 1_000_000_000;

    fn allow(&mut self, ts: i64, ratio: f64) -> bool {
        if let Some(until) = self.blocked_until {
            if ts < until {
                return false;
            }
            *self = Limiter::default();
        }
        if self.added > 0 && self.evicted as f64 / self.added as f64 > ratio {
            self.blocked_until = Some(ts.saturating_add(Self::BLOCK_NS));
            return false;
        }
        self.added += 1;
        true
    }
}

/// Cluster store with least-recently-used eviction.
#[derive(Debug, Default)]
struct Store {
    map: HashMap<u64, Entry>,
    tick: u64,
}

impl Store {
    /// Looks a cluster up and marks it as recently used (like simplelru.Get).
    fn touch(&mut self, id: u64) -> Option<&mut Entry> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.get_mut(&id)?;
        e.last_used = tick;
        Some(e)
    }
}

/// A Drain pattern miner for one stream.
#[derive(Debug)]
pub struct Drain {
    config: DrainConfig,
    format: Option<LogFormat>,
    root: Node,
    store: Store,
    next_id: u64,
    limiter: Limiter,
    evictions_since_prune: usize,
}

impl Drain {
    /// Creates a miner; out-of-range parameters are clamped to their minimum.
    pub fn new(mut config: DrainConfig) -> Drain {
        config.log_cluster_depth = config.log_cluster_depth.max(3);
        config.max_children = config.max_children.max(1);
        config.max_clusters = config.max_clusters.max(1);
        config.sample_interval_ns = config.sample_interval_ns.max(1);
        config.max_samples_per_cluster = config.max_samples_per_cluster.max(1);
        Drain {
            format: config.format,
            config,
            root: Node::default(),
            store: Store::default(),
            next_id: 0,
            limiter: Limiter::default(),
            evictions_since_prune: 0,
        }
    }

    fn max_node_depth(&self) -> usize {
        self.config.log_cluster_depth - 2
    }

    fn tokenize(&mut self, line: &str) -> Option<Tokens> {
        let format = *self.format.get_or_insert_with(|| detect_format(line));
        let max = self.config.max_line_length;
        match format {
            LogFormat::Unknown => tokenizer::tokenize_punctuation(line, max),
            LogFormat::Logfmt => tokenizer::tokenize_logfmt(line, max),
            LogFormat::Json => tokenizer::tokenize_json(line, &self.config.json_fields, max),
        }
    }

    fn render(&self, t: &Tokens) -> String {
        let joined = match self.format.unwrap_or(LogFormat::Unknown) {
            LogFormat::Unknown => tokenizer::join_punctuation(t),
            LogFormat::Logfmt => tokenizer::join_logfmt(&t.tokens),
            LogFormat::Json => tokenizer::join_json(t),
        };
        dedup_placeholders(&joined)
    }

    /// Trains one line seen at `ts_ns`; returns the pattern it was assigned
    /// to, or `None` when the line was skipped.
    pub fn train(&mut self, line: &str, ts_ns: i64) -> Option<String> {
        if !self.limiter.allow(ts_ns, self.config.max_eviction_ratio) {
            return None;
        }
        let tokens = self.tokenize(line)?;
        let n = tokens.tokens.len();
        if !(4..=80).contains(&n) {
            return None;
        }
        let id = match self.tree_search(&tokens.tokens) {
            Some(id) => {
                let interval = self.config.sample_interval_ns;
                let max_samples = self.config.max_samples_per_cluster;
                let e = self.store.touch(id)?;
                for (t, new) in e.tokens.tokens.iter_mut().zip(&tokens.tokens) {
                    if t != new {
                        *t = PARAM.to_string();
                    }
                }
                e.count += 1;
                e.volume += line.len() as u64;
                add_sample(&mut e.buckets, ts_ns, interval, max_samples);
                id
            }
            None => self.create_cluster(tokens, line.len() as u64, ts_ns),
        };
        let e = self.store.map.get(&id)?;
        Some(self.render(&e.tokens))
    }

    fn create_cluster(&mut self, tokens: Tokens, volume: u64, ts_ns: i64) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let mut buckets = Vec::new();
        add_sample(
            &mut buckets,
            ts_ns,
            self.config.sample_interval_ns,
            self.config.max_samples_per_cluster,
        );
        if self.store.map.len() >= self.config.max_clusters {
            self.evict_lru();
        }
        self.store.tick += 1;
        let entry = Entry {
            tokens,
            count: 1,
            volume,
            buckets,
            last_used: self.store.tick,
        };
        let token_list = entry.tokens.tokens.clone();
        self.store.map.insert(id, entry);
        self.add_to_tree(&token_list, id);
        id
    }

    fn evict_lru(&mut self) {
        let oldest = self
            .store
            .map
            .iter()
            .min_by_key(|(_, e)| e.last_used)
            .map(|(id, _)| *id);
        if let Some(id) = oldest {
            self.store.map.remove(&id);
            self.limiter.evicted += 1;
            self.evictions_since_prune += 1;
            if self.evictions_since_prune >= self.config.max_clusters {
                self.prune_tree();
            }
        }
    }

    fn tree_search(&mut self, tokens: &[String]) -> Option<u64> {
        let max_depth = self.max_node_depth();
        let mut cur = self.root.child(&tokens.len().to_string())?;
        for (depth, token) in (1..).zip(tokens) {
            if depth >= max_depth || depth == tokens.len() {
                break;
            }
            cur = cur.child(token).or_else(|| cur.child(PARAM))?;
        }
        let ids = cur.cluster_ids.clone();
        self.fast_match(&ids, tokens)
    }

    fn fast_match(&mut self, ids: &[u64], tokens: &[String]) -> Option<u64> {
        let mut best: Option<(f64, usize, u64)> = None;
        for &id in ids {
            let Some(e) = self.store.touch(id) else {
                continue;
            };
            let Some((sim, params)) = seq_distance(&e.tokens.tokens, tokens) else {
                continue;
            };
            if best.is_none_or(|(s, p, _)| sim > s || (sim == s && params > p)) {
                best = Some((sim, params, id));
            }
        }
        best.filter(|(s, _, _)| *s >= self.config.sim_th)
            .map(|(_, _, id)| id)
    }

    fn add_to_tree(&mut self, tokens: &[String], id: u64) {
        let max_depth = self.max_node_depth();
        let max_children = self.config.max_children;
        let count_key = tokens.len().to_string();
        let idx = match self.root.child_index(&count_key) {
            Some(i) => i,
            None => self.root.add_child(&count_key),
        };
        let mut cur = &mut self.root.children[idx].1;
        for (depth, token) in (1..).zip(tokens) {
            if depth >= max_depth || depth >= tokens.len() {
                let store = &self.store;
                cur.cluster_ids.retain(|c| store.map.contains_key(c));
                cur.cluster_ids.push(id);
                return;
            }
            let next = match cur.child_index(token) {
                Some(i) => i,
                None => {
                    let param = cur.child_index(PARAM);
                    let n = cur.children.len();
                    let has_numbers = token.chars().any(char::is_numeric);
                    match param {
                        Some(p) if has_numbers || n >= max_children => p,
                        Some(_) => cur.add_child(token),
                        None if !has_numbers && n + 1 < max_children => cur.add_child(token),
                        None => cur.add_child(PARAM),
                    }
                }
            };
            cur = &mut cur.children[next].1;
        }
        cur.cluster_ids.push(id);
    }

    fn prune_tree(&mut self) {
        fn prune(node: &mut Node, store: &Store) -> usize {
            node.children
                .retain_mut(|(_, child)| prune(child, store) > 0);
            node.cluster_ids.retain(|id| store.map.contains_key(id));
            node.children.len() + node.cluster_ids.len()
        }
        self.evictions_since_prune = 0;
        prune(&mut self.root, &self.store);
    }

    /// Drops samples older than `now_ns - older_than_ns`, deletes clusters
    /// left without samples (not counted as evictions) and prunes the tree.
    pub fn prune(&mut self, now_ns: i64, older_than_ns: i64) {
        let cutoff = now_ns.saturating_sub(older_than_ns);
        self.store.map.retain(|_, e| {
            e.buckets.retain(|(t, _)| *t >= cutoff);
            !e.buckets.is_empty()
        });
        self.prune_tree();
    }

    /// The current clusters, least recently used first.
    pub fn clusters(&self) -> Vec<Cluster> {
        let mut entries: Vec<&Entry> = self.store.map.values().collect();
        entries.sort_by_key(|e| e.last_used);
        entries
            .into_iter()
            .map(|e| Cluster {
                pattern: self.render(&e.tokens),
                count: e.count,
                volume: e.volume,
                buckets: e.buckets.clone(),
            })
            .collect()
    }

    /// The format in use (detected from the first line when not configured).
    pub fn format(&self) -> Option<LogFormat> {
        self.format
    }
}

/// Similarity of a template and a line of the same length: share of equal
/// non-`<_>` positions and the number of `<_>` (`None` if lengths differ).
fn seq_distance(template: &[String], tokens: &[String]) -> Option<(f64, usize)> {
    if template.len() != tokens.len() || template.is_empty() {
        return None;
    }
    let (mut sim, mut params) = (0usize, 0usize);
    for (a, b) in template.iter().zip(tokens) {
        if a == PARAM {
            params += 1;
        } else if a == b {
            sim += 1;
        }
    }
    Some((sim as f64 / template.len() as f64, params))
}

fn add_sample(buckets: &mut Vec<(i64, u64)>, ts: i64, interval: i64, max: usize) {
    let t = ts.saturating_sub(ts.rem_euclid(interval));
    match buckets.last_mut() {
        Some(last) if last.0 == t => last.1 += 1,
        Some(last) if t < last.0 => {} // out of order: dropped, as in Loki
        _ => buckets.push((t, 1)),
    }
    if buckets.len() > max {
        let excess = buckets.len() - max;
        buckets.drain(..excess);
    }
}

#[cfg(test)]
#[path = "drain_tests.rs"]
mod tests;
