//! One trace, loaded whole, with its parent/child links for the structural operators and
//! its trace-level fields (`rootServiceName`, `rootName`, `traceDuration`).

use std::collections::HashMap;

use strata_engine::SpanRecord;

/// A trace's spans and their structure. Spans are referred to by their index in
/// [`TraceView::spans`], which are in start order.
#[derive(Debug)]
pub(crate) struct TraceView {
    /// The spans, sorted by start time.
    pub(crate) spans: Vec<SpanRecord>,
    /// The index of each span's parent, when it is in the trace.
    pub(crate) parent: Vec<Option<usize>>,
    /// The indices of each span's children.
    pub(crate) children: Vec<Vec<usize>>,
    /// The root span: the earliest span without a parent.
    pub(crate) root: Option<usize>,
    /// The earliest start.
    pub(crate) start_ns: i64,
    /// The latest end.
    pub(crate) end_ns: i64,
}

impl TraceView {
    /// The view of a trace's spans (at least one, in any order).
    pub(crate) fn new(mut spans: Vec<SpanRecord>) -> Self {
        spans.sort_by_key(|s| (s.start_ns, s.span_id));
        let by_id: HashMap<[u8; 8], usize> = spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id, i))
            .collect();
        let parent: Vec<Option<usize>> = spans
            .iter()
            .map(|s| s.parent_span_id.and_then(|p| by_id.get(&p).copied()))
            .collect();
        let mut children = vec![Vec::new(); spans.len()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[*p].push(i);
            }
        }
        let root = spans.iter().position(|s| s.parent_span_id.is_none());
        let start_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
        let end_ns = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
        Self {
            spans,
            parent,
            children,
            root,
            start_ns,
            end_ns,
        }
    }

    /// Whether span `a` is an ancestor of span `b`.
    pub(crate) fn is_ancestor(&self, a: usize, b: usize) -> bool {
        let mut at = self.parent[b];
        let mut steps = 0;
        while let Some(p) = at {
            if p == a {
                return true;
            }
            steps += 1;
            if steps > self.spans.len() {
                // A cycle of parent ids: not a tree.
                return false;
            }
            at = self.parent[p];
        }
        false
    }
}
