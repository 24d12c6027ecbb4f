// What the LogQL box completes (the list itself is lib/autocomplete.js): stream label
// names inside `{...}`, a label's values after `name=` / `name="`, and the pipeline's
// stages after `|`.

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

