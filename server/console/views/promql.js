// The PromQL view: a query box with autocomplete, a time range and step, a graph (range
// query, one line per series, exemplars as points) and a table (instant query at the
// range's end), the query's stats and the metric's metadata. URL: `#/promql?q=&range=&step=&tab=`.

import { h, fill, field, table, fmtNum, fmtDuration, fmtTime, useCss } from '../lib/dom.js';
import { rangePicker, rangeFromParam, autoStep, parseDuration } from '../lib/range.js';
import { lineChart } from '../lib/chart.js';
import { autocomplete } from '../lib/autocomplete.js';
import { promqlProvider } from '../lib/promql-hints.js';
import { drawExemplars } from '../lib/exemplars.js';

/** `{__name__: "up", job: "api"}` as `up{job="api"}`. */
export function seriesName(metric) {
  const { __name__: name = '', ...rest } = metric || {};
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length ? `${name}{${pairs.join(', ')}}` : name || '{}';
}

/** A step text ("30s", "15", "1m") as seconds; NaN when malformed. */
function stepSeconds(text) {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  return parseDuration(text);
}

/** The server's own time from `Server-Timing: app;dur=<ms>`, in seconds, or null. */
function serverSeconds(resp) {
  const m = (resp.headers.get('Server-Timing') || '').match(/dur=([\d.]+)/);
  return m ? Number(m[1]) / 1000 : null;
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/explore.css');
  const { api, params } = ctx;
  let tab = params.get('tab') === 'table' ? 'table' : 'graph';
  let chart = null;
  let alive = true;

  const query = h('textarea', { id: 'promql-query', class: 'query', rows: 2, spellcheck: 'false',
    autocomplete: 'off', placeholder: 'e.g. rate(http_requests_total[5m])' });
  query.value = params.get('q') || '';
  const picker = rangePicker(rangeFromParam(params.get('range')), () => updateStepHint());
  const step = h('input', { id: 'promql-step', class: 'mono', size: 8, value: params.get('step') || '' });
  const run = h('button', { type: 'button', id: 'promql-run', onclick: () => execute() }, 'Run');
  const meta = h('div', { id: 'promql-meta', class: 'legend-note', 'aria-live': 'polite' });
  const stats = h('div', { id: 'promql-stats', class: 'stats', 'aria-live': 'polite' });
  const chartEl = h('div', { id: 'promql-chart', class: 'chart', role: 'tabpanel', 'aria-labelledby': 'promql-tab-graph' });
  const tableEl = h('div', { id: 'promql-table', role: 'tabpanel', 'aria-labelledby': 'promql-tab-table' });
  const tabButton = (name, label) => h('button', { type: 'button', role: 'tab', id: `promql-tab-${name}`,
    'aria-controls': `promql-${name === 'graph' ? 'chart' : 'table'}`,
    onclick: () => { tab = name; showTab(); execute(); } }, label);
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Result view' },
    tabButton('graph', 'Graph'), tabButton('table', 'Table'));

  const box = h('div', { style: 'position:relative' }, field('PromQL query', query,
    'Enter runs, Shift+Enter adds a line, Ctrl+Space suggests, Tab accepts'));
  root.append(h('h1', null, 'PromQL'),
    h('div', { class: 'panel' }, box,
      h('div', { class: 'row' }, picker.el, field('Step', step), run), meta),
    tabs, stats, chartEl, tableEl);
  autocomplete(query, { provider: promqlProvider(api), onEnter: () => execute() });

  function updateStepHint() {
    const r = picker.range();
    step.placeholder = `auto: ${autoStep(r.start, r.end)}s`;
  }
  function showTab() {
    for (const name of ['graph', 'table']) {
      document.getElementById(`promql-tab-${name}`).setAttribute('aria-selected', String(tab === name));
    }
    chartEl.hidden = tab !== 'graph';
    tableEl.hidden = tab !== 'table';
  }
  updateStepHint();
  showTab();

  async function getTimed(path, args) {
    const t0 = performance.now();
    const resp = await api.raw(api.withQuery(path, args));
    const body = await resp.json();
    return { body, server: serverSeconds(resp), roundTrip: (performance.now() - t0) / 1000 };
  }

  async function showMetadata(q) {
    fill(meta);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(q)) return;
    try {
      const { data } = await api.get('/api/v1/metadata', { metric: q });
      const m = data && data[q] && data[q][0];
      if (alive && m) fill(meta, h('strong', null, `${q} (${m.type || 'unknown'}${m.unit ? `, ${m.unit}` : ''})`), ' ', m.help || '');
    } catch (_) { /* metadata is a hint; the query's own errors are shown */ }
  }

  async function execute() {
    const q = query.value.trim();
    const r = picker.range();
    const stepText = step.value.trim();
    ctx.setParams({ q, range: picker.value(), ...(stepText ? { step: stepText } : {}), ...(tab === 'table' ? { tab } : {}) });
    if (!q) return;
    const stepS = stepText ? stepSeconds(stepText) : autoStep(r.start, r.end);
    if (!(stepS > 0)) { ctx.setError(`bad step "${stepText}": give seconds or a duration such as 30s`); return; }
    root.dataset.state = 'loading';
    ctx.clearError();
    showMetadata(q);
    try {
      if (tab === 'graph') await graph(q, r, stepS);
      else await instant(q, r);
      if (alive) root.dataset.state = 'ready';
    } catch (e) {
      if (!alive) return;
      root.dataset.state = 'error';
      fill(stats);
      ctx.setError(e);
    }
  }

  async function graph(q, r, stepS) {
    const { body, server, roundTrip } = await getTimed('/api/v1/query_range',
      { query: q, start: r.start, end: r.end, step: stepS });
    if (!alive) return;
    const result = body.data.result || [];
    const matrix = body.data.resultType === 'matrix' ? result : [];
    const series = matrix.map((s) => ({ label: seriesName(s.metric),
      points: s.values.map(([t, v]) => [t, Number(v)]) }));
    const points = series.reduce((n, s) => n + s.points.length, 0);
    if (chart) { chart.destroy(); chart = null; }
    fill(chartEl);
    root.dataset.series = String(series.length);
    if (series.length) chart = lineChart(chartEl, { series });
    else fill(chartEl, h('p', { class: 'muted' }, 'No data in this range.'));
    fill(stats, `${fmtNum(series.length)} series, ${fmtNum(points)} points, step ${stepS}s · `,
      server !== null ? `server ${fmtDuration(server)}, ` : '', `round trip ${fmtDuration(roundTrip)}`,
      warnings(body));
    if (chart) loadExemplars(q, r, chart);
  }

  async function loadExemplars(q, r, c) {
    try {
      const { data } = await api.get('/api/v1/query_exemplars', { query: q, start: r.start, end: r.end });
      if (alive && c === chart) {
        const n = drawExemplars(c.plot, data || [], (id) => ctx.navigate(`#/traces?id=${encodeURIComponent(id)}`));
        if (n) stats.append(` · ${fmtNum(n)} exemplars`);
      }
    } catch (e) {
      if (alive) stats.append(` · exemplars: ${e.message}`);
    }
  }

  async function instant(q, r) {
    const { body, server, roundTrip } = await getTimed('/api/v1/query', { query: q, time: r.end });
    if (!alive) return;
    const { resultType, result } = body.data;
    let rows;
    if (resultType === 'vector') {
      rows = result.map((s) => ({ series: seriesName(s.metric), value: s.value[1], time: s.value[0] }));
    } else if (resultType === 'matrix') {
      rows = result.map((s) => ({ series: seriesName(s.metric),
        value: s.values.map(([t, v]) => `${v} @${t}`).join('\n'), time: s.values.length ? s.values[s.values.length - 1][0] : null }));
    } else {
      rows = [{ series: resultType, value: result[1], time: result[0] }];
    }
    fill(tableEl, rows.length ? table([
      { key: 'series', label: 'Series', render: (row) => h('code', null, row.series) },
      { key: 'value', label: 'Value', num: true, render: (row) => h('span', { style: 'white-space:pre' }, row.value) },
    ], rows, { caption: `Evaluated at ${fmtTime(r.end * 1000)}` }) : h('p', { class: 'muted' }, 'Empty result.'));
    const points = resultType === 'matrix' ? result.reduce((n, s) => n + s.values.length, 0) : rows.length;
    root.dataset.rows = String(rows.length);
    fill(stats, `${fmtNum(rows.length)} series, ${fmtNum(points)} points · `,
      server !== null ? `server ${fmtDuration(server)}, ` : '', `round trip ${fmtDuration(roundTrip)}`,
      warnings(body));
  }

  function warnings(body) {
    const w = [...(body.warnings || []), ...(body.infos || [])];
    return w.length ? h('div', { class: 'legend-note' }, w.join('\n')) : null;
  }

  if (query.value.trim()) execute();
  else root.dataset.state = 'ready';
  return () => { alive = false; if (chart) chart.destroy(); };
}
