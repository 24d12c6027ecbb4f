// The logs view: a LogQL box (label names and values completed), range, limit and
// direction; a volume histogram by level over the range, and the lines (expandable to
// every label and structured metadata, trace ids linked to the traces view). A metric
// query draws a line chart instead. "Live" follows a log query over Loki's tail WebSocket
// (new lines added as they arrive), and re-runs a metric query every 5 s.

import { h, fill, field, fmtNum, fmtBytes, fmtTime, useCss } from '../lib/dom.js';
import { rangePicker, rangeFromParam, autoStep } from '../lib/range.js';
import { barChart, lineChart } from '../lib/chart.js';
import { withQuery, socket } from '../lib/api.js';
import { autocomplete } from '../lib/autocomplete.js';
import { logqlCompletions } from '../lib/logql-suggest.js';
import { linkTraceIds, traceLink, isTraceIdLabel } from '../lib/links.js';

const LIVE_MS = 5000;
const LEVELS = ['fatal', 'critical', 'error', 'warn', 'warning', 'info', 'debug', 'trace'];

/** `{a="1", b="2"}` of a label object. */
function labelsText(obj) {
  return `{${Object.entries(obj).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/** Nanoseconds (a decimal string) as local time with milliseconds. */
function fmtNs(ns) {
  const ms = Number(ns.length > 6 ? ns.slice(0, -6) : '0');
  return `${fmtTime(ms)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}`;
}

/** A label's value, linked when the label holds a trace id. */
function labelValue(name, v) {
  return isTraceIdLabel(name) && /^[0-9a-fA-F]{32}$/.test(v) ? traceLink(v) : v;
}

/** Entries by time: nanoseconds as decimal strings, compared without losing digits. */
function byTime(a, b) {
  return (a.ts.length - b.ts.length) || (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0);
}

/** The lines' table around `body` (its rows). */
function linesTable(body) {
  const th = (t, cls) => h('th', { scope: 'col', class: cls }, t);
  return h('div', { class: 'scroll' }, h('table', { class: 'data logs-table' },
    h('thead', null, h('tr', null, th(h('span', { class: 'sr-only' }, 'Expand'), 'log-toggle-col'),
      th('Time'), th('Labels'), th('Line'))),
    body));
}

function labelList(title, obj) {
  const keys = Object.keys(obj).sort();
  if (!keys.length) return null;
  return h('div', null, h('h3', null, title), h('dl', { class: 'kv' },
    keys.map((k) => [h('dt', null, k), h('dd', null, labelValue(k, obj[k]))])));
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/logs.css');
  const p = ctx.params;
  const query = h('textarea', { id: 'logs-query', class: 'query', rows: 2, spellcheck: 'false',
    placeholder: '{service_name="frontend"} |= "error"' });
  query.value = p.get('q') || '';
  const picker = rangePicker(rangeFromParam(p.get('range'), '1h'));
  const limit = h('input', { id: 'logs-limit', type: 'number', min: 1, max: 5000, value: p.get('limit') || '100' });
  const direction = h('select', { id: 'logs-direction' },
    h('option', { value: 'backward', selected: p.get('dir') !== 'forward' }, 'Newest first'),
    h('option', { value: 'forward', selected: p.get('dir') === 'forward' }, 'Oldest first'));
  const runBtn = h('button', { type: 'button', id: 'logs-run' }, 'Run');
  const live = h('input', { type: 'checkbox', id: 'logs-live' });
  const stats = h('div', { class: 'stats', id: 'logs-stats', 'aria-live': 'polite' });
  const volume = h('div', { id: 'logs-volume', class: 'chart', 'aria-label': 'Log volume by level' });
  const chart = h('div', { id: 'logs-chart', class: 'chart', hidden: true });
  const lines = h('div', { id: 'logs-lines' });
  const hint = h('p', { class: 'muted', id: 'logs-hint' });
  const expanded = new Set();
  const charts = [];
  let alive = true, seq = 0, busy = false, timer = null, controller = null;
  // The live tail: its socket, the lines shown (by key), and how many it added.
  let tail = null, tailed = 0;
  const shown = new Set();

  const get = async (path, params, headers) => {
    const resp = await ctx.api.raw(withQuery(path, params), { headers, signal: controller.signal });
    return resp.json();
  };
  const rangeNs = () => {
    const r = picker.range();
    return { start: `${Math.floor(r.start)}000000000`, end: `${Math.ceil(r.end)}000000000` };
  };
  const cache = new Map();
  const cached = (key, load) => {
    if (!cache.has(key)) cache.set(key, load().catch((e) => { cache.delete(key); throw e; }));
    return cache.get(key);
  };
  const source = {
    names: () => cached('names', async () => (await ctx.api.get('/loki/api/v1/labels', rangeNs())).data || []),
    values: (n) => cached(`v:${n}`, async () =>
      (await ctx.api.get(`/loki/api/v1/label/${encodeURIComponent(n)}/values`, rangeNs())).data || []),
  };
  const queryWrap = h('div', { class: 'suggest-wrap' }, query);
  const suggest = autocomplete(query, {
    provider: (t, c) => logqlCompletions(t, c, source), onEnter: () => rerun(), reopen: true,
  });

  const clearCharts = () => { while (charts.length) charts.pop().destroy(); };

  function drawVolume(result, times) {
    const series = (result || []).map((s) => {
      const at = new Map(s.values.map(([t, v]) => [Math.round(Number(t)), Number(v)]));
      const name = s.metric.detected_level || s.metric.level || 'logs';
      return { label: name, values: times.map((t) => at.get(t) || null) };
    });
    const total = (s) => s.values.reduce((a, b) => a + (b || 0), 0);
    series.sort((a, b) => total(b) - total(a) || LEVELS.indexOf(a.label) - LEVELS.indexOf(b.label));
    volume.dataset.total = String(series.reduce((a, s) => a + total(s), 0));
    if (!series.length) { fill(volume, h('p', { class: 'muted' }, 'No log volume in this range.')); return; }
    volume.replaceChildren();
    charts.push(barChart(volume, { times, series, yLabel: 'lines', height: 150 }));
  }

  const keyOf = (e) => `${e.ts}|${labelsText(e.stream)}|${e.line}`;

  function row(e) {
    const key = keyOf(e);
    const meta = e.meta;
    const idLabel = Object.keys(meta).find((k) => isTraceIdLabel(k) && /^[0-9a-fA-F]{32}$/.test(meta[k]))
      || Object.keys(e.stream).find((k) => isTraceIdLabel(k) && /^[0-9a-fA-F]{32}$/.test(e.stream[k]));
    const tid = idLabel ? (meta[idLabel] || e.stream[idLabel]) : null;
    const level = (e.stream.level || meta.detected_level || meta.level || '').toLowerCase();
    const detail = h('tr', { class: 'log-detail', hidden: !expanded.has(key) },
      h('td', { colspan: 4 }, h('div', { class: 'grid' }, labelList('Stream labels', e.stream),
        labelList('Structured metadata', meta), labelList('Parsed', e.parsed))));
    const toggle = h('button', { type: 'button', class: 'log-toggle', 'aria-expanded': String(expanded.has(key)),
      'aria-label': 'Show all labels', onclick: () => {
        const open = detail.hidden;
        detail.hidden = !open;
        if (open) expanded.add(key); else expanded.delete(key);
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = open ? '▾' : '▸';
      } }, expanded.has(key) ? '▾' : '▸');
    const chips = Object.entries(e.stream).map(([k, v]) => h('span', { class: 'chip' }, `${k}=${v}`));
    const body = linkTraceIds(e.line);
    const linked = tid && body.some((n) => n instanceof Node && n.textContent.toLowerCase() === tid.toLowerCase());
    return [h('tr', { class: `log-line level-${level || 'none'}`, 'data-ts': e.ts },
      h('td', null, toggle), h('td', { class: 'log-time' }, fmtNs(e.ts)), h('td', { class: 'log-labels' }, chips),
      h('td', { class: 'log-body' }, body, tid && !linked ? [' ', traceLink(tid, 'trace ↗')] : null)), detail];
  }

  function drawLines(result, descending) {
    const entries = [];
    for (const s of result || []) {
      for (const [ts, line, extra] of s.values) {
        entries.push({ ts, line, stream: s.stream, meta: (extra && extra.structuredMetadata) || {}, parsed: (extra && extra.parsed) || {} });
      }
    }
    entries.sort((a, b) => (descending ? byTime(b, a) : byTime(a, b)));
    shown.clear();
    entries.forEach((e) => shown.add(keyOf(e)));
    fill(lines, entries.length
      ? linesTable(h('tbody', null, entries.map((e) => row(e))))
      : h('p', { class: 'muted' }, 'No lines match.'));
    return entries.length;
  }

  async function run({ quiet = false } = {}) {
    const text = query.value.trim();
    if (!text) { root.dataset.state = 'ready'; return; }
    suggest.close();
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = ++seq;
    busy = true;
    if (!quiet) ctx.clearError();
    ctx.setParams({ q: text, range: picker.value(), limit: limit.value, dir: direction.value });
    root.dataset.state = 'loading';
    const r = picker.range();
    const start = Math.floor(r.start), end = Math.ceil(r.end);
    const isLog = /^\s*\{/.test(text);
    const started = performance.now();
    try {
      const step = autoStep(start, end, 60);
      const vstart = Math.floor(start / step) * step, vend = Math.ceil(end / step) * step;
      const [main, vol] = await Promise.all([
        get('/loki/api/v1/query_range', isLog
          ? { query: text, start, end, limit: limit.value, direction: direction.value }
          : { query: text, start, end, step: autoStep(start, end) },
        isLog ? { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' } : undefined),
        isLog
          ? get('/loki/api/v1/query_range', { query: `sum by (detected_level) (count_over_time(${text} [${step}s]))`,
            start: vstart, end: vend, step }).catch((e) => ({ error: e }))
          : null,
      ]);
      if (!alive || mine !== seq) return;
      clearCharts();
      hint.hidden = true;
      const d = main.data;
      const sum = (d.stats && d.stats.summary) || {};
      volume.hidden = !isLog; lines.hidden = !isLog; chart.hidden = isLog;
      if (isLog) {
        if (vol.error) fill(volume, h('p', { class: 'muted' }, `Volume unavailable: ${vol.error.message}`));
        else {
          const times = [];
          for (let t = vstart; t <= vend; t += step) times.push(t);
          drawVolume(vol.data.result, times);
        }
        const n = drawLines(d.result, direction.value !== 'forward');
        stats.textContent = `${fmtNum(n)} line${n === 1 ? '' : 's'} from ${fmtNum((d.result || []).length)} stream${(d.result || []).length === 1 ? '' : 's'}`
          + ` · ${fmtNum(sum.totalLinesProcessed)} read (${fmtBytes(sum.totalBytesProcessed)}) · ${Math.round(performance.now() - started)} ms`;
      } else {
        const series = (d.result || []).map((s) => ({ label: labelsText(s.metric),
          points: (s.values || (s.value ? [s.value] : [])).map(([t, v]) => [Number(t), Number(v)]) }));
        chart.replaceChildren();
        if (series.length) charts.push(lineChart(chart, { series }));
        else fill(chart, h('p', { class: 'muted' }, 'No data.'));
        stats.textContent = `${fmtNum(series.length)} series · ${fmtNum(sum.totalLinesProcessed)} lines read · ${Math.round(performance.now() - started)} ms`;
      }
      root.dataset.state = 'ready';
    } catch (e) {
      if (!alive || mine !== seq || e.name === 'AbortError') return;
      ctx.setError(e);
      root.dataset.state = 'error';
    } finally {
      if (mine === seq) busy = false;
    }
  }

  const isLogQuery = (text) => /^\s*\{/.test(text);

  function stopTail() {
    if (tail) { tail.onclose = null; tail.close(); tail = null; }
    delete root.dataset.live;
  }

  /** Adds a tail frame's lines (`{"streams":[{"stream", "values"}]}`) to the table,
   * at the top when newest first, keeping at most `limit` lines. */
  function addTailed(frame) {
    const fresh = [];
    for (const s of frame.streams || []) {
      for (const [ts, line] of s.values || []) {
        const e = { ts, line, stream: s.stream || {}, meta: {}, parsed: {} };
        if (!shown.has(keyOf(e))) { shown.add(keyOf(e)); fresh.push(e); }
      }
    }
    if (!fresh.length) return;
    const newestFirst = direction.value !== 'forward';
    fresh.sort((a, b) => (newestFirst ? byTime(b, a) : byTime(a, b)));
    let body = lines.querySelector('tbody');
    if (!body) {
      body = h('tbody');
      fill(lines, linesTable(body));
    }
    const rows = fresh.flatMap((e) => row(e));
    if (newestFirst) body.prepend(...rows); else body.append(...rows);
    const max = Math.max(1, Number(limit.value) || 100);
    const all = body.querySelectorAll('tr.log-line');
    for (let i = all.length - 1; i >= max; i--) {
      const victim = newestFirst ? all[i] : all[all.length - 1 - i];
      victim.nextElementSibling.remove();
      victim.remove();
    }
    tailed += fresh.length;
    stats.textContent = `Live: ${fmtNum(tailed)} new line${tailed === 1 ? '' : 's'} since it started`
      + ` · ${fmtNum(body.querySelectorAll('tr.log-line').length)} shown`;
  }

  /** Follows the log query over `/loki/api/v1/tail`, from now on. */
  function startTail(text) {
    stopTail();
    tailed = 0;
    const ws = socket('/loki/api/v1/tail', { query: text, limit: limit.value,
      start: `${Date.now() - 2000}000000` });
    tail = ws;
    root.dataset.live = 'connecting';
    ws.onopen = () => { if (tail === ws) root.dataset.live = 'tail'; };
    ws.onmessage = (m) => {
      if (tail !== ws) return;
      try { addTailed(JSON.parse(m.data)); } catch (e) { ctx.setError(e); }
    };
    ws.onclose = (ev) => {
      if (tail !== ws || !alive) return;
      tail = null;
      root.dataset.live = 'closed';
      ctx.setError(new Error(`Live tail closed${ev.reason ? `: ${ev.reason}` : ev.code === 1006
        ? ': the server refused or dropped the connection' : ''}`));
      live.checked = false;
    };
  }

  async function goLive() {
    clearInterval(timer);
    timer = null;
    stopTail();
    if (!live.checked) return;
    const text = query.value.trim();
    await run();
    if (!alive || !live.checked || query.value.trim() !== text) return;
    if (isLogQuery(text)) startTail(text);
    else timer = setInterval(() => { if (!busy) run({ quiet: true }); }, LIVE_MS);
  }

  live.addEventListener('change', goLive);
  // Run again; live, the tail follows the new query.
  function rerun() { return live.checked ? goLive() : run(); }
  runBtn.addEventListener('click', () => rerun());

  root.append(h('h1', null, 'Logs'),
    h('div', { class: 'panel' },
      h('div', { class: 'field query-field' }, h('label', { for: 'logs-query' }, 'LogQL query'),
        queryWrap),
      h('div', { class: 'row' }, picker.el, field('Limit', limit), field('Order', direction), runBtn,
        h('label', { class: 'live', title: 'A log query follows new lines as they arrive; a metric query re-runs every 5 s' }, live, ' Live')),
      h('p', { class: 'legend-note' }, 'Enter runs, Shift+Enter adds a line; Ctrl+Space suggests labels and values.')),
    hint, stats, volume, chart, lines);

  if (query.value.trim()) run();
  else {
    root.dataset.state = 'ready';
    source.values('service_name').then((svcs) => {
      if (!alive || !svcs.length) return;
      fill(hint, 'Streams by service: ', svcs.slice(0, 30).map((s, i) => [i ? ', ' : '', h('a', { href: '#', onclick: (e) => {
        e.preventDefault();
        query.value = `{service_name=${JSON.stringify(s)}}`;
        run();
      } }, s)]));
    }).catch((e) => { if (alive) ctx.setError(e); });
  }
  return () => {
    alive = false;
    clearInterval(timer);
    stopTail();
    if (controller) controller.abort();
    clearCharts();
  };
}
