// Autocomplete for a query box: a listbox under a textarea (Up/Down move, Tab/Enter
// accept, Escape closes; `role="listbox"` and `aria-activedescendant`), and the LogQL
// contexts it completes: stream label names inside `{...}`, a label's values after
// `name=` / `name="`, and the pipeline's stages after `|`.

import { h } from './dom.js';

const STAGES = ['json', 'logfmt', 'regexp', 'pattern', 'unpack', 'line_format', 'label_format',
  'drop', 'keep', 'decolorize', 'unwrap'];

/** `v` escaped for a LogQL string quoted with `quote`, as a regex when `regex`. */
function escapeValue(v, quote, regex) {
  let s = regex ? v.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&') : v;
  if (quote !== '`') s = s.replace(/[\\"]/g, '\\$&');
  return s;
}

/**
 * What to complete at `cursor` in LogQL `text`: `{kind: 'name'|'value'|'stage', label?,
 * from, prefix, quote?, op?}` or null. `from` is where the replaced text starts.
 */
export function logqlContext(text, cursor) {
  const before = text.slice(0, cursor);
  let brace = -1, quote = '', qstart = -1;
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === '`') { quote = c; qstart = i; }
    else if (c === '{') brace = i;
    else if (c === '}') brace = -1;
  }
  if (brace >= 0 && quote) {
    const m = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(brace + 1, qstart));
    if (!m) return null;
    return { kind: 'value', label: m[1], op: m[2], quote, from: qstart + 1, prefix: before.slice(qstart + 1) };
  }
  if (brace >= 0) {
    const inner = before.slice(brace + 1);
    const v = /([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(inner);
    if (v) return { kind: 'value', label: v[1], op: v[2], quote: '', from: cursor, prefix: '' };
    const n = /(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)?$/.exec(inner);
    if (n) return { kind: 'name', from: cursor - (n[1] || '').length, prefix: n[1] || '' };
    return null;
  }
  if (quote) return null;
  const s = /\|\s*([a-z_]*)$/.exec(before);
  return s ? { kind: 'stage', from: cursor - s[1].length, prefix: s[1] } : null;
}

/** Items for `ctx` from `names` / `values`: `{label, insert}`, prefix matches first. */
function rank(list, prefix) {
  const p = prefix.toLowerCase();
  const starts = list.filter((x) => x.toLowerCase().startsWith(p));
  const within = p ? list.filter((x) => !x.toLowerCase().startsWith(p) && x.toLowerCase().includes(p)) : [];
  return [...starts, ...within];
}

/**
 * LogQL completions at `cursor`: `{from, to, items: [{label, insert}]}` or null.
 * `source`: `{names(): Promise<string[]>, values(name): Promise<string[]>}`.
 */
export async function logqlCompletions(text, cursor, source) {
  const c = logqlContext(text, cursor);
  if (!c) return null;
  const after = text.slice(cursor);
  if (c.kind === 'stage') {
    return { from: c.from, to: cursor, items: rank(STAGES, c.prefix).map((s) => ({ label: s, insert: s })) };
  }
  if (c.kind === 'name') {
    const names = rank(await source.names(), c.prefix);
    const tail = /^\s*(=|!)/.test(after) ? '' : '="';
    return { from: c.from, to: cursor, items: names.map((n) => ({ label: n, insert: n + tail })) };
  }
  const regex = c.op === '=~' || c.op === '!~';
  const values = rank(await source.values(c.label), c.prefix);
  const q = c.quote || '"';
  const close = c.quote && after.startsWith(c.quote) ? '' : q;
  return {
    from: c.from, to: cursor,
    items: values.map((v) => ({ label: v, insert: `${c.quote ? '' : q}${escapeValue(v, q, regex)}${close}` })),
  };
}

let lists = 0;

/**
 * Attaches a completion list to `input` (a textarea). `complete(text, cursor)` returns
 * `{from, to, items}` or null; `run()` is called on Enter (Shift+Enter is a newline) when
 * the list is closed. Returns `{el, close()}`: put `el` right after the textarea inside a
 * `position: relative` wrapper.
 */
export function attachSuggest(input, { complete, run }) {
  const id = `suggest-${++lists}`;
  const el = h('ul', { class: 'suggest', id, role: 'listbox', hidden: true, 'aria-label': 'Suggestions' });
  let items = [], active = -1, span = null, seq = 0;
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', id);
  input.setAttribute('aria-haspopup', 'listbox');
  input.setAttribute('aria-expanded', 'false');

  const close = () => {
    seq++;
    el.hidden = true; items = []; active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const highlight = (i) => {
    active = i;
    [...el.children].forEach((li, k) => li.setAttribute('aria-selected', String(k === i)));
    const li = el.children[i];
    if (li) { input.setAttribute('aria-activedescendant', li.id); li.scrollIntoView({ block: 'nearest' }); }
  };
  const accept = (i) => {
    const it = items[i];
    if (!it) return;
    input.value = input.value.slice(0, span.from) + it.insert + input.value.slice(span.to);
    const at = span.from + it.insert.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
    update(); // a name's values, right away
  };
  const show = (found) => {
    if (!found || !found.items.length) { close(); return; }
    span = found;
    items = found.items.slice(0, 50);
    el.replaceChildren(...items.map((it, k) => h('li', { id: `${id}-${k}`, role: 'option', 'aria-selected': 'false',
      onmousedown: (e) => e.preventDefault(), onclick: () => accept(k) }, it.label)));
    el.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(0);
  };
  async function update() {
    const mine = ++seq;
    let found = null;
    try { found = await complete(input.value, input.selectionStart); } catch (_) { found = null; }
    if (mine === seq && document.activeElement === input) show(found);
  }

  input.addEventListener('input', update);
  input.addEventListener('blur', close);
  input.addEventListener('keydown', (e) => {
    if (!el.hidden) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        highlight((active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length);
        return;
      }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey)) { e.preventDefault(); accept(active); return; }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(); return; }
    }
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); update(); return; }
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); close(); run(); }
  });
  return { el, close };
}
