// Links between the explore views: a trace id anywhere opens `#/traces?id=<hex>`.

import { h } from './dom.js';

/** The hash that opens trace `id`. */
export function traceHash(id) { return `#/traces?id=${encodeURIComponent(id.toLowerCase())}`; }

/** A link to trace `id` (class `trace-link`) showing `label` (default: the id). */
export function traceLink(id, label) {
  return h('a', { class: 'trace-link', href: traceHash(id), title: `Open trace ${id}` }, label || id);
}

const TRACE_ID = /\b[0-9a-fA-F]{32}\b/g;

/** `text` as nodes, each 32-hex-digit word in it a trace link. */
export function linkTraceIds(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(TRACE_ID)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(traceLink(m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Whether label `name` holds a trace id (`trace_id`, `traceid`, `traceID`, `trace.id`). */
export function isTraceIdLabel(name) { return /^trace[._]?id$/i.test(name); }
