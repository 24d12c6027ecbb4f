// Small DOM and formatting helpers shared by the views.

/**
 * Builds an element: `h('button', {type: 'button', onclick: fn}, 'Run')`. Attributes
 * starting with `on` are listeners; `class`, `for`, `aria-*`, `data-*` are attributes;
 * `hidden`/`disabled`/`checked`/`value`/`selected` are properties; children are
 * nodes, strings or arrays of them (null and false are skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (['hidden', 'disabled', 'checked', 'value', 'selected'].includes(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field: `field('Query', input)` (gives the input an id if it has none). */
let nextId = 0;
export function field(label, input, hint) {
  if (!input.id) input.id = `f${++nextId}`;
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input,
    hint ? h('span', { class: 'legend-note' }, hint) : null);
}

/**
 * A table: `columns` are `{key, label, num?, render?(row)}`; `rows` objects. Returns the
 * wrapping element (scrolls when long).
 */
export function table(columns, rows, { caption } = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)));
  const body = rows.map((r) => h('tr', null, columns.map((c) => {
    const v = c.render ? c.render(r) : r[c.key];
    return h('td', { class: c.num ? 'num' : null }, v);
  })));
  return h('div', { class: 'scroll' },
    h('table', { class: 'data' }, caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', null, head), h('tbody', null, body)));
}

/** 1234567 -> "1,234,567"; non-integers keep up to 3 decimals. */
export function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Bytes in B/KiB/MiB/GiB/TiB. */
export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n), i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** Seconds as "1h 2m", "3.2s", "450ms", "12µs". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  const s = Number(seconds);
  if (s < 1e-3) return `${Math.round(s * 1e6)}µs`;
  if (s < 1) return `${Math.round(s * 1e3)}ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`;
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return [d && `${d}d`, hr && `${hr}h`, m && `${m}m`].filter(Boolean).join(' ') || `${Math.round(s)}s`;
}

/** Milliseconds since the epoch as local "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(Number(ms));
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A usage gauge: `used` of `limit` (no limit: just the number). */
export function gauge(used, limit, label) {
  if (!limit) return h('span', null, fmtNum(used));
  const frac = Math.min(1, used / limit);
  const cls = frac >= 1 ? 'gauge full' : frac >= 0.8 ? 'gauge warn' : 'gauge';
  return h('div', null,
    h('div', { class: cls, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': limit,
      'aria-valuenow': used, 'aria-label': label || 'usage' },
      h('div', { style: `width:${(frac * 100).toFixed(1)}%` })),
    h('span', { class: 'legend-note' }, `${fmtNum(used)} of ${fmtNum(limit)} (${(frac * 100).toFixed(1)}%)`));
}

/** Triggers a download of `text` as file `name`. */
export function download(name, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Links the stylesheet at `href` (a view's own styles) into the document once. */
export function useCss(href) {
  if (document.querySelector(`link[rel=stylesheet][href="${href}"]`)) return;
  document.head.append(h('link', { rel: 'stylesheet', href }));
}
