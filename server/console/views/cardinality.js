// The cardinality and limits view, for the current tenant: active series against the cap,
// the head's figures, top metrics and labels by series (with drill-down by metric and by
// label), rejections by reason (totals and over time) and the ingest rate against its
// limit. From `/api/v1/status/tsdb` and `/api/v1/status/limits`.
// URL: `#/cardinality?limit=&match=&focus=`.

import { h, fill, field, table, fmtNum, fmtBytes, fmtDuration, fmtTime, gauge, useCss } from '../lib/dom.js';
import { barChart } from '../lib/chart.js';

const LIMITS = ['10', '20', '50'];

/** A number with a bar of its share of `max`. */
function barCell(value, max) {
  const pct = max > 0 ? Math.max(0.5, (100 * value) / max) : 0;
  return h('span', { class: 'barcell' },
    h('span', { class: 'bar', style: `width:${(pct * 1.2).toFixed(1)}px`, 'aria-hidden': 'true' }),
    fmtNum(value));
}

/** `[{name, value}]` lists merged into rows keyed by name, in the first list's order. */
function merge(first, others) {
  return (first || []).map((r) => {
    const row = { name: r.name, value: r.value };
    for (const [key, list] of Object.entries(others)) {
      const hit = (list || []).find((x) => x.name === r.name);
      row[key] = hit ? hit.value : null;
    }
    return row;
  });
}

/** `{a: {x: 1}}` as rows `{signal: 'a', reason: 'x', count: 1}`. */
function rejectionRows(rejected) {
  const rows = [];
  for (const [signal, reasons] of Object.entries(rejected || {})) {
    for (const [reason, count] of Object.entries(reasons || {})) rows.push({ signal, reason, count });
  }
  return rows.sort((a, b) => b.count - a.count || a.signal.localeCompare(b.signal) || a.reason.localeCompare(b.reason));
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/explore.css');
  const { api, params } = ctx;
  let alive = true;
  let charts = [];

  const limit = h('select', { id: 'card-limit' },
    LIMITS.map((n) => h('option', { value: n, selected: n === (params.get('limit') || '10') }, n)));
  const match = h('input', { id: 'card-match', class: 'mono', size: 36, value: params.get('match') || '',
    placeholder: '{__name__="http_requests_total"}' });
  const focus = h('input', { id: 'card-focus-label', class: 'mono', size: 14, value: params.get('focus') || '',
    placeholder: 'e.g. pod' });
  const apply = h('button', { type: 'button', id: 'card-apply', onclick: () => load() }, 'Apply');
  const clear = h('button', { type: 'button', class: 'plain', onclick: () => { match.value = ''; focus.value = ''; load(); } }, 'Clear');
  limit.addEventListener('change', () => load());
  for (const input of [match, focus]) {
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); load(); } });
  }

  const active = h('div', { id: 'card-active', class: 'panel' });
  const ingest = h('div', { id: 'card-ingest', class: 'panel' });
  const metrics = h('div', { id: 'card-top-metrics' });
  const labels = h('div', { id: 'card-labels' });
  const pairs = h('div', { id: 'card-pairs' });
  const focused = h('div', { id: 'card-focus' });
  const rejections = h('div', { id: 'card-rejections' });
  const title = h('h1', null, 'Cardinality and limits');

  root.append(title,
    h('div', { class: 'panel row' }, field('Top', limit), field('Series selector (match[])', match),
      field('Focus label', focus), apply, clear),
    h('div', { class: 'grid' }, active, ingest),
    h('h2', null, 'Top metrics by series'), metrics,
    h('div', { class: 'grid' },
      h('div', null, h('h2', null, 'Labels by distinct values'), labels),
      h('div', null, h('h2', null, 'Top label=value pairs by series'), pairs)),
    focused,
    h('h2', null, 'Rejections'), rejections);

  function drill(name) {
    match.value = `{__name__="${name}"}`;
    load();
  }
  function focusOn(name) {
    focus.value = name;
    load();
  }

  async function load() {
    const q = { limit: limit.value };
    if (match.value.trim()) q.match = match.value.trim();
    if (focus.value.trim()) q.focus = focus.value.trim();
    ctx.setParams(q);
    root.dataset.state = 'loading';
    ctx.clearError();
    try {
      const [tsdb, limits] = await Promise.all([
        api.get('/api/v1/status/tsdb', { limit: limit.value, 'match[]': q.match, focusLabel: q.focus }),
        api.get('/api/v1/status/limits'),
      ]);
      if (!alive) return;
      charts.forEach((c) => c.destroy());
      charts = [];
      render(tsdb.data || {}, limits.data || {});
      root.dataset.state = 'ready';
    } catch (e) {
      if (!alive) return;
      root.dataset.state = 'error';
      ctx.setError(e);
    }
  }

  function render(t, l) {
    fill(title, 'Cardinality and limits', l.tenant ? h('span', { class: 'muted' }, ` · tenant ${l.tenant}`) : null);
    const s = l.series || {};
    const hs = t.headStats || {};
    const activeNow = t.activeSeries ?? s.active;
    const maxActive = t.maxActiveSeries ?? s.maxActive;
    fill(active, h('h2', { style: 'margin-top:0' }, 'Active series'),
      gauge(activeNow ?? 0, maxActive, 'Active series against max_active_series'),
      h('dl', { class: 'kv', style: 'margin-top:8px' },
        h('dt', null, 'Series in the head'), h('dd', null, fmtNum(hs.numSeries ?? s.head)),
        h('dt', null, 'Series with samples in memory'), h('dd', null, fmtNum(hs.chunkCount)),
        h('dt', null, 'Label pairs'), h('dd', null, fmtNum(hs.numLabelPairs ?? t.totalLabelValuePairs)),
        h('dt', null, 'Samples in memory'), h('dd', null, hs.minTime ? `${fmtTime(hs.minTime)} – ${fmtTime(hs.maxTime)}` : '–'),
        h('dt', null, 'Max series per metric'), h('dd', null, s.maxPerMetric ? fmtNum(s.maxPerMetric) : 'no limit'),
        h('dt', null, 'Active window'), h('dd', null, s.activeWindowSeconds ? fmtDuration(s.activeWindowSeconds) : '–'),
        t.totalSeries !== undefined && match.value.trim() ? [h('dt', null, 'Series matched'), h('dd', null, fmtNum(t.totalSeries))] : null));

    const ing = l.ingest || {};
    fill(ingest, h('h2', { style: 'margin-top:0' }, 'Ingest rate (samples/s, last minute)'),
      gauge(Math.round(ing.rate ?? 0), ing.rateLimit, 'Ingest rate against its limit'),
      h('dl', { class: 'kv', style: 'margin-top:8px' },
        h('dt', null, 'Rate limit'), h('dd', null, ing.rateLimit ? `${fmtNum(ing.rateLimit)}/s` : 'no limit'),
        h('dt', null, 'Burst'), h('dd', null, ing.burst ? fmtNum(ing.burst) : '–'),
        ing.signalRecordRate !== undefined ? [h('dt', null, 'Span and log record limit'), h('dd', null, ing.signalRecordRate ? `${fmtNum(ing.signalRecordRate)}/s` : 'no limit')] : null,
        ing.signalByteRate !== undefined ? [h('dt', null, 'Span and log byte limit'), h('dd', null, ing.signalByteRate ? `${fmtBytes(ing.signalByteRate)}/s` : 'no limit')] : null));

    const top = t.seriesCountByMetricName || [];
    const maxTop = t.totalSeries || (top[0] && top[0].value) || 0;
    fill(metrics, top.length ? table([
      { key: 'name', label: 'Metric', render: (r) => h('a', { href: `#/promql?q=${encodeURIComponent(r.name)}` }, r.name) },
      { key: 'value', label: 'Series', num: true, render: (r) => barCell(r.value, maxTop) },
      { key: 'share', label: 'Share', num: true, render: (r) => (maxTop ? `${((100 * r.value) / maxTop).toFixed(1)}%` : '–') },
      { key: 'drill', label: 'Labels', render: (r) => h('button', { type: 'button', class: 'plain', 'data-metric': r.name,
        'aria-label': `Drill down into ${r.name}`, onclick: () => drill(r.name) }, 'drill down') },
    ], top) : h('p', { class: 'muted' }, 'No series.'));

    const rows = merge(t.labelValueCountByLabelName, {
      series: t.seriesCountByLabelName, added: t.seriesAddedByLabelName, bytes: t.memoryInBytesByLabelName,
    });
    const maxValues = rows.reduce((m, r) => Math.max(m, r.value), 0);
    fill(labels, rows.length ? table([
      { key: 'name', label: 'Label', render: (r) => h('button', { type: 'button', class: 'plain', 'data-label': r.name,
        'aria-label': `Series by value of ${r.name}`, onclick: () => focusOn(r.name) }, r.name) },
      { key: 'value', label: 'Distinct values', num: true, render: (r) => barCell(r.value, maxValues) },
      { key: 'series', label: 'Series with it', num: true, render: (r) => fmtNum(r.series) },
      { key: 'added', label: 'Series it adds', num: true, render: (r) => fmtNum(r.added) },
      { key: 'bytes', label: 'Memory', num: true, render: (r) => fmtBytes(r.bytes) },
    ], rows) : h('p', { class: 'muted' }, 'No labels.'));

    const p = t.seriesCountByLabelValuePair || [];
    const maxPair = p.reduce((m, r) => Math.max(m, r.value), 0);
    fill(pairs, p.length ? table([
      { key: 'name', label: 'Pair', render: (r) => h('code', null, r.name) },
      { key: 'value', label: 'Series', num: true, render: (r) => barCell(r.value, maxPair) },
    ], p) : h('p', { class: 'muted' }, 'No pairs.'));

    const f = t.seriesCountByFocusLabelValue;
    const name = focus.value.trim();
    if (name && f) {
      const maxF = f.reduce((m, r) => Math.max(m, r.value), 0);
      fill(focused, h('h2', null, `Series by value of `, h('code', null, name)), f.length ? table([
        { key: 'name', label: 'Value', render: (r) => h('a', {
          href: `#/promql?q=${encodeURIComponent(`{${name}=${JSON.stringify(r.name)}}`)}` }, r.name) },
        { key: 'value', label: 'Series', num: true, render: (r) => barCell(r.value, maxF) },
      ], f) : h('p', { class: 'muted' }, 'No series have this label.'));
    } else {
      fill(focused);
    }
    renderRejections(l);
  }

  function renderRejections(l) {
    const rows = rejectionRows(l.rejected);
    const totals = rows.length ? table([
      { key: 'signal', label: 'Signal' },
      { key: 'reason', label: 'Reason', render: (r) => h('code', null, r.reason) },
      { key: 'count', label: 'Rejected since start', num: true, render: (r) => fmtNum(r.count) },
    ], rows) : h('p', { class: 'muted', id: 'card-no-rejections' }, 'Nothing rejected since the server started.');
    const points = (l.history && l.history.points) || [];
    const keys = [...new Set(points.flatMap((pt) => rejectionRows(pt.rejected).map((r) => `${r.signal}/${r.reason}`)))].sort();
    const chartEl = h('div', { class: 'chart', id: 'card-rejections-chart' });
    const accEl = h('div', { class: 'chart', id: 'card-accepted-chart' });
    const every = l.history && l.history.intervalSeconds;
    fill(rejections, totals,
      keys.length ? [h('h2', null, `Rejected per ${every || '?'} s`), chartEl] : null,
      points.length ? [h('h2', null, `Accepted per ${every || '?'} s`), accEl] : null);
    const times = points.map((pt) => pt.t / 1000);
    if (keys.length) {
      charts.push(barChart(chartEl, { times, yLabel: 'rejected', series: keys.map((k) => {
        const [signal, reason] = k.split('/');
        return { label: k, values: points.map((pt) => (pt.rejected && pt.rejected[signal] && pt.rejected[signal][reason]) || 0) };
      }) }));
    }
    if (points.length) {
      const signals = [...new Set(points.flatMap((pt) => Object.keys(pt.accepted || {})))].sort();
      charts.push(barChart(accEl, { times, yLabel: 'accepted', series: signals.map((sig) => ({
        label: sig, values: points.map((pt) => (pt.accepted && pt.accepted[sig]) || 0) })) }));
    }
  }

  load();
  return () => { alive = false; charts.forEach((c) => c.destroy()); };
}
