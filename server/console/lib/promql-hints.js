// What to suggest at the caret of a PromQL expression: metric names and functions, label
// names inside `{...}` (or after `by (`), label values after `label="`. Names come from
// the Prometheus API (`/api/v1/label/__name__/values`, `/api/v1/labels`,
// `/api/v1/label/<n>/values`), cached for the life of one provider.

/** PromQL's functions, aggregation operators and keywords. */
export const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh',
  'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh',
  'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg',
  'delta', 'deriv', 'double_exponential_smoothing', 'exp', 'floor', 'histogram_avg',
  'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev',
  'histogram_stdvar', 'histogram_sum', 'hour', 'idelta', 'increase', 'irate', 'label_join',
  'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time',
  'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time',
  'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh',
  'sort', 'sort_by_label', 'sort_by_label_desc', 'sort_desc', 'sqrt', 'stddev_over_time',
  'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
];
export const AGGREGATIONS = ['avg', 'bottomk', 'count', 'count_values', 'group', 'limitk',
  'limit_ratio', 'max', 'min', 'quantile', 'stddev', 'stdvar', 'sum', 'topk'];
export const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right',
  'offset', 'bool', 'and', 'or', 'unless'];

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_VALUE = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/;

/** Strips string literals (so braces inside them do not count), keeping lengths. */
function blankStrings(text) {
  return text.replace(/"((?:[^"\\]|\\.)*)("?)/g, (_, body, close) => `"${' '.repeat(body.length)}${close}`);
}

/**
 * The context at `caret` of `text`: `{kind: 'metric'|'label'|'value'|'none', prefix, from,
 * metric?, label?}`. `metric` is the metric name before the enclosing `{`, when there is one.
 */
export function context(text, caret) {
  const before = text.slice(0, caret);
  const plain = blankStrings(before);
  const open = plain.lastIndexOf('{');
  const inBraces = open > plain.lastIndexOf('}');
  const metricBefore = (at) => {
    const m = plain.slice(0, at).match(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/);
    return m ? m[1] : undefined;
  };
  if (inBraces) {
    const v = before.slice(open).match(LABEL_VALUE);
    if (v) {
      return { kind: 'value', label: v[1], prefix: v[3], from: caret - v[3].length, metric: metricBefore(open) };
    }
    const inString = (before.slice(open).match(/"/g) || []).length % 2 === 1;
    if (inString) return { kind: 'none', prefix: '', from: caret };
    const w = plain.match(/(^|[{,\s])([a-zA-Z_][a-zA-Z0-9_]*)?$/);
    const prefix = (w && w[2]) || '';
    const head = plain.slice(open + 1, caret - prefix.length);
    if (/^(?:\s*(?:[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*"[^"]*"\s*,)\s*)*\s*$/.test(head)) {
      return { kind: 'label', prefix, from: caret - prefix.length, metric: metricBefore(open) };
    }
    return { kind: 'none', prefix: '', from: caret };
  }
  // Grouping labels: `by (`, `without (`, `on (`, `ignoring (`.
  const g = plain.match(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/);
  if (g) {
    const w = g[1].match(/([a-zA-Z_][a-zA-Z0-9_]*)?$/);
    const prefix = (w && w[1]) || '';
    return { kind: 'label', prefix, from: caret - prefix.length };
  }
  if (plain.lastIndexOf('[') > plain.lastIndexOf(']')) return { kind: 'none', prefix: '', from: caret };
  const m = plain.match(NAME);
  if (!m) return { kind: 'none', prefix: '', from: caret };
  const start = caret - m[0].length;
  if (start > 0 && /[0-9.]/.test(plain[start - 1])) return { kind: 'none', prefix: '', from: caret };
  return { kind: 'metric', prefix: m[0], from: start };
}

/** `names` matching `prefix`: those starting with it first, then those containing it. */
export function rank(names, prefix, { exact = false } = {}) {
  const p = prefix.toLowerCase();
  const starts = [], contains = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (l === p && !exact) continue;
    if (l.startsWith(p)) starts.push(n);
    else if (p && l.includes(p)) contains.push(n);
  }
  return [...starts.sort(), ...contains.sort()];
}

/** A provider for lib/autocomplete.js over `api` (lib/api.js). */
export function promqlProvider(api) {
  const cache = new Map();
  const cached = (key, load) => {
    if (!cache.has(key)) {
      const p = load().catch((e) => { cache.delete(key); throw e; });
      cache.set(key, p);
    }
    return cache.get(key);
  };
  const metrics = () => cached('__name__', async () => (await api.get('/api/v1/label/__name__/values')).data || []);
  const labels = (metric) => cached(`labels:${metric || ''}`, async () =>
    ((await api.get('/api/v1/labels', metric ? { 'match[]': metric } : undefined)).data || [])
      .filter((n) => n !== '__name__'));
  const values = (label, metric) => cached(`values:${label}:${metric || ''}`, async () =>
    (await api.get(`/api/v1/label/${encodeURIComponent(label)}/values`,
      metric ? { 'match[]': metric } : undefined)).data || []);

  return async (text, caret) => {
    const c = context(text, caret);
    if (c.kind === 'metric') {
      if (!c.prefix) return null;
      const names = await metrics();
      const items = [
        ...rank(names, c.prefix).map((n) => ({ value: n, detail: 'metric' })),
        ...rank([...FUNCTIONS, ...AGGREGATIONS], c.prefix).map((n) => ({ value: n, insert: `${n}(`, detail: 'function' })),
        ...rank(KEYWORDS, c.prefix).filter((n) => c.prefix.length > 1).map((n) => ({ value: n, detail: 'keyword' })),
      ];
      return { from: c.from, items };
    }
    if (c.kind === 'label') {
      const names = await labels(c.metric);
      return { from: c.from, items: rank(names, c.prefix).map((n) => ({ value: n, detail: 'label' })) };
    }
    if (c.kind === 'value') {
      const vals = await values(c.label, c.metric);
      const after = text.slice(caret, caret + 1);
      return {
        from: c.from,
        items: rank(vals, c.prefix, { exact: true }).map((v) => {
          const escaped = v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
          return { value: v, insert: after === '"' ? escaped : `${escaped}"` };
        }),
      };
    }
    return null;
  };
}
