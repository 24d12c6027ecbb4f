// One trace from the Jaeger API as a tree of spans, and its waterfall: spans as bars on
// the trace's time axis, nested by parent, colored by service, errors marked, subtrees
// collapsible; clicking a span shows its attributes, resource, events and status.

import { h, fill, fmtDuration, fmtTime } from './dom.js';
import { color } from './chart.js';

/** Whether a Jaeger span (its tags) is an error: `error=true` or OTLP status ERROR. */
function isError(tags) {
  return tags.some((t) => (t.key === 'error' && (t.value === true || t.value === 'true'))
    || (t.key === 'otel.status_code' && t.value === 'ERROR'));
}

/**
 * A Jaeger trace (`{traceID, spans, processes}`) as `{id, spans, roots, start, end,
 * services, errors}`: `spans` in depth-first order (children by start time), each
 * `{id, parentId, depth, children, service, op, start, duration, error, raw, process}`;
 * times in microseconds. A span whose parent is not in the trace is a root.
 */
export function traceModel(trace) {
  const spans = trace.spans.map((s) => {
    const process = trace.processes[s.processID] || { serviceName: '?', tags: [] };
    const parent = (s.references || []).find((r) => r.refType === 'CHILD_OF');
    return {
      id: s.spanID, parentId: parent ? parent.spanID : null, depth: 0, children: [],
      service: process.serviceName, op: s.operationName, start: s.startTime,
      duration: s.duration, error: isError(s.tags || []), raw: s, process,
    };
  });
  const byId = new Map(spans.map((s) => [s.id, s]));
  const roots = [];
  for (const s of spans) {
    const p = s.parentId && byId.get(s.parentId);
    if (p && p !== s) p.children.push(s); else roots.push(s);
  }
  const byStart = (a, b) => a.start - b.start || (a.id < b.id ? -1 : 1);
  const ordered = [];
  const walk = (s, depth) => {
    s.depth = depth;
    ordered.push(s);
    s.children.sort(byStart).forEach((c) => walk(c, depth + 1));
  };
  roots.sort(byStart).forEach((r) => walk(r, 0));
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.duration));
  const services = [...new Set(spans.map((s) => s.service))].sort();
  return {
    id: trace.traceID, spans: ordered, roots, start, end, services,
    errors: spans.filter((s) => s.error).length,
  };
}

/** The color of `service` among the trace's `services`. */
function serviceColor(model, service) { return color(Math.max(0, model.services.indexOf(service))); }

/** A tag's value as text. */
function text(v) { return typeof v === 'string' ? v : JSON.stringify(v); }

function kvTable(caption, pairs) {
  if (!pairs.length) return h('p', { class: 'muted' }, `${caption}: none`);
  return h('table', { class: 'data kv-table' }, h('caption', null, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', null, pairs.map(([k, v]) => h('tr', null, h('td', null, k), h('td', null, text(v))))));
}

/** Fills `el` with the details of span `s` of `model`. */
function showSpan(el, model, s) {
  const tags = s.raw.tags || [];
  const own = tags.filter((t) => !t.key.startsWith('otel.') && t.key !== 'error' && t.key !== 'span.kind');
  const tag = (k) => { const t = tags.find((x) => x.key === k); return t ? text(t.value) : null; };
  const status = tag('otel.status_code') || 'UNSET';
  const desc = tag('otel.status_description');
  fill(el,
    h('h2', null, h('span', { class: 'swatch', style: `background:${serviceColor(model, s.service)}` }),
      `${s.service}: ${s.op}`),
    h('dl', { class: 'kv' },
      h('dt', null, 'Status'), h('dd', { class: s.error ? 'span-status span-error' : 'span-status' },
        desc ? `${status}: ${desc}` : status),
      h('dt', null, 'Span id'), h('dd', null, h('code', null, s.id)),
      h('dt', null, 'Parent'), h('dd', null, s.parentId ? h('code', null, s.parentId) : '–'),
      h('dt', null, 'Kind'), h('dd', null, tag('span.kind') || '–'),
      h('dt', null, 'Start'), h('dd', null, `${fmtTime(s.start / 1000)} (+${fmtDuration((s.start - model.start) / 1e6)})`),
      h('dt', null, 'Duration'), h('dd', null, fmtDuration(s.duration / 1e6)),
      h('dt', null, 'Scope'), h('dd', null, [tag('otel.scope.name'), tag('otel.scope.version')].filter(Boolean).join(' ') || '–')),
    kvTable('Attributes', own.map((t) => [t.key, t.value])),
    kvTable('Resource', [['service.name', s.service], ...s.process.tags.map((t) => [t.key, t.value])]),
    (s.raw.logs || []).length
      ? h('table', { class: 'data kv-table' }, h('caption', null, 'Events'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'At'), h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Attributes'))),
        h('tbody', null, s.raw.logs.map((l) => {
          const ev = l.fields.find((f) => f.key === 'event');
          const rest = l.fields.filter((f) => f !== ev).map((f) => `${f.key}=${text(f.value)}`).join(' ');
          return h('tr', null, h('td', null, `+${fmtDuration((l.timestamp - model.start) / 1e6)}`),
            h('td', null, ev ? text(ev.value) : ''), h('td', null, rest));
        })))
      : h('p', { class: 'muted' }, 'Events: none'),
    (s.raw.references || []).filter((r) => r.refType !== 'CHILD_OF').length
      ? kvTable('Links', s.raw.references.filter((r) => r.refType !== 'CHILD_OF').map((r) => [r.traceID, r.spanID]))
      : null);
}

/**
 * Draws `model`'s waterfall into `el` and the selected span's details into `detail`.
 * Rows are `.span-row` with `data-depth`, `data-service`, `data-op`, class `span-error`
 * when the span failed.
 */
export function waterfall(el, detail, model) {
  const total = Math.max(1, model.end - model.start);
  const pct = (us) => `${((us / total) * 100).toFixed(3)}%`;
  const collapsed = new Set();
  const rows = new Map();
  let selected = null;
  const select = (s) => {
    if (selected) rows.get(selected.id).removeAttribute('aria-current');
    selected = s;
    rows.get(s.id).setAttribute('aria-current', 'true');
    showSpan(detail, model, s);
  };
  const relayout = () => {
    let hideBelow = Infinity;
    for (const s of model.spans) {
      if (s.depth <= hideBelow) hideBelow = Infinity;
      rows.get(s.id).hidden = s.depth > hideBelow;
      if (!rows.get(s.id).hidden && collapsed.has(s.id)) hideBelow = s.depth;
    }
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { class: 'tick', style: `left:${f * 100}%` },
    f ? fmtDuration((total * f) / 1e6) : '0'));
  const head = h('div', { class: 'wf-row wf-head' }, h('div', { class: 'wf-name' }, 'Service: operation'),
    h('div', { class: 'wf-track' }, ticks));
  const body = model.spans.map((s) => {
    const toggle = s.children.length
      ? h('button', { type: 'button', class: 'wf-toggle', 'aria-expanded': 'true',
        'aria-label': `Collapse ${s.op}`, onclick: (e) => {
          const open = collapsed.has(s.id);
          if (open) collapsed.delete(s.id); else collapsed.add(s.id);
          e.currentTarget.setAttribute('aria-expanded', String(open));
          e.currentTarget.setAttribute('aria-label', `${open ? 'Collapse' : 'Expand'} ${s.op}`);
          e.currentTarget.textContent = open ? '▾' : '▸';
          relayout();
        } }, '▾')
      : h('span', { class: 'wf-toggle-space' });
    const c = serviceColor(model, s.service);
    const row = h('div', { class: s.error ? 'wf-row span-row span-error' : 'wf-row span-row',
      'data-depth': s.depth, 'data-service': s.service, 'data-op': s.op, 'data-span-id': s.id },
    h('div', { class: 'wf-name', style: `padding-left:${s.depth * 16}px` }, toggle,
      h('button', { type: 'button', class: 'span-name', onclick: () => select(s) },
        h('span', { class: 'swatch', style: `background:${c}` }),
        h('span', { class: 'svc' }, s.service), ' ', s.op,
        s.error ? h('span', { class: 'err-mark', title: 'error', 'aria-label': 'error' }, ' ⚠') : null)),
    h('div', { class: 'wf-track', onclick: () => select(s) },
      h('div', { class: 'wf-bar', style: `left:${pct(s.start - model.start)};width:${pct(s.duration)};background:${c}` }),
      h('span', { class: 'wf-dur', style: `left:${pct(s.start - model.start + s.duration)}` }, fmtDuration(s.duration / 1e6))));
    rows.set(s.id, row);
    return row;
  });
  fill(el, head, body);
  fill(detail, h('p', { class: 'muted' }, 'Click a span to see its attributes, resource, events and status.'));
}
