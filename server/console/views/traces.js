// The traces view: a search through the Jaeger API (service, operation, tags, duration,
// range, limit) with a scatter of the durations found and a list of traces; and one trace
// (`#/traces?id=<hex>`) as a waterfall, with links to its logs and its service's RED
// metrics.

import { h, fill, field, fmtDuration, fmtTime, useCss } from '../lib/dom.js';
import { rangePicker, rangeFromParam } from '../lib/range.js';
import { traceModel, waterfall } from '../lib/waterfall.js';
import { traceHash } from '../lib/links.js';

/**
 * Jaeger UI's tags box, `k=v k2="v 2"`, as the JSON object the API's `tags` takes.
 * Throws on text that is not such pairs.
 */
export function tagsJson(text) {
  const out = {};
  const re = /\s*([^\s=]+)=("((?:[^"\\]|\\.)*)"|\S*)/y;
  let rest = text.trim();
  while (rest) {
    re.lastIndex = 0;
    const m = re.exec(rest);
    if (!m) throw new Error(`malformed tags near "${rest}": use key=value pairs, quoting values with spaces`);
    out[m[1]] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2];
    rest = rest.slice(m[0].length).trim();
  }
  return Object.keys(out).length ? JSON.stringify(out) : '';
}

const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/traces.css');
  const id = (ctx.params.get('id') || '').trim().toLowerCase();
  return id ? mountTrace(root, ctx, id) : mountSearch(root, ctx);
}

/** The trace id box: opens `#/traces?id=...` on Enter or its button. */
function idBox(ctx, value = '') {
  const input = h('input', { id: 'traces-id', class: 'mono', size: 34, value,
    placeholder: '32 hex digits', spellcheck: 'false' });
  const open = () => {
    const v = input.value.trim().toLowerCase();
    if (!/^[0-9a-f]{1,32}$/.test(v)) { ctx.setError(`invalid trace id "${input.value}": 1 to 32 hex digits`); return; }
    ctx.navigate(traceHash(v));
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); open(); } });
  return h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); open(); } },
    field('Trace id', input), h('button', { type: 'submit', id: 'traces-open' }, 'Open trace'));
}

function mountSearch(root, ctx) {
  const p = ctx.params;
  const service = h('select', { id: 'traces-service' });
  const operation = h('select', { id: 'traces-operation' }, h('option', { value: '' }, 'All operations'));
  const tags = h('input', { id: 'traces-tags', class: 'mono', size: 32, value: p.get('tags') || '',
    placeholder: 'http.status_code=500 error=true', spellcheck: 'false' });
  const min = h('input', { id: 'traces-min', size: 8, value: p.get('minDuration') || '', placeholder: 'e.g. 50ms' });
  const max = h('input', { id: 'traces-max', size: 8, value: p.get('maxDuration') || '', placeholder: 'e.g. 2s' });
  const limit = h('input', { id: 'traces-limit', type: 'number', min: 1, max: 1500, value: p.get('limit') || '20' });
  const picker = rangePicker(rangeFromParam(p.get('range'), '1h'));
  const run = h('button', { type: 'submit', id: 'traces-search' }, 'Search');
  const stats = h('div', { class: 'stats', id: 'traces-stats', 'aria-live': 'polite' });
  const scatter = h('div', { id: 'traces-scatter' });
  const results = h('div', { id: 'traces-results' });
  let alive = true;
  let seq = 0;

  const loadOperations = async (chosen = '') => {
    fill(operation, h('option', { value: '' }, 'All operations'));
    if (!service.value) return;
    const { data } = await ctx.api.get('/jaeger/api/operations', { service: service.value });
    const names = [...new Set((data || []).map((o) => o.name))].sort();
    operation.append(...names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
  };
  service.addEventListener('change', () => loadOperations().catch((e) => alive && ctx.setError(e)));

  const search = async () => {
    ctx.clearError();
    const mine = ++seq;
    let tagParam;
    try { tagParam = tagsJson(tags.value); } catch (e) { ctx.setError(e.message); root.dataset.state = 'error'; return; }
    for (const [box, name] of [[min, 'min duration'], [max, 'max duration']]) {
      if (box.value.trim() && !GO_DURATION.test(box.value.trim())) {
        ctx.setError(`invalid ${name} "${box.value}": a duration such as 50ms, 1.5s, 2m`);
        root.dataset.state = 'error';
        return;
      }
    }
    if (!service.value) { fill(results, h('p', { class: 'muted' }, 'No services have sent spans yet.')); root.dataset.state = 'ready'; return; }
    const r = picker.range();
    ctx.setParams(Object.fromEntries(Object.entries({
      service: service.value, operation: operation.value, tags: tags.value.trim(),
      minDuration: min.value.trim(), maxDuration: max.value.trim(), limit: limit.value, range: picker.value(),
    }).filter(([, v]) => v)));
    root.dataset.state = 'loading';
    const started = performance.now();
    try {
      const { data } = await ctx.api.get('/jaeger/api/traces', {
        service: service.value, operation: operation.value, tags: tagParam,
        minDuration: min.value.trim(), maxDuration: max.value.trim(), limit: limit.value,
        start: Math.floor(r.start * 1e6), end: Math.ceil(r.end * 1e6),
      });
      if (!alive || mine !== seq) return;
      const traces = (data || []).map(traceModel).sort((a, b) => b.start - a.start);
      stats.textContent = `${traces.length} trace${traces.length === 1 ? '' : 's'} in ${Math.round(performance.now() - started)} ms`;
      fill(results, traces.length ? resultTable(traces) : h('p', { class: 'muted' }, 'No traces match.'));
      drawScatter(scatter, traces, ctx);
      root.dataset.state = 'ready';
    } catch (e) {
      if (!alive || mine !== seq) return;
      ctx.setError(e);
      root.dataset.state = 'error';
    }
  };

  root.append(
    h('h1', null, 'Traces'),
    h('form', { class: 'panel', onsubmit: (e) => { e.preventDefault(); search(); } },
      h('div', { class: 'row' }, field('Service', service), field('Operation', operation),
        field('Tags', tags), field('Min duration', min), field('Max duration', max),
        picker.el, field('Limit', limit), run)),
    h('div', { class: 'panel' }, idBox(ctx)),
    stats, scatter, results);

  root.dataset.state = 'loading';
  (async () => {
    const { data } = await ctx.api.get('/jaeger/api/services');
    if (!alive) return;
    const names = (data || []).slice().sort();
    const want = p.get('service');
    service.append(...names.map((n) => h('option', { value: n, selected: n === want }, n)));
    if (service.value) await loadOperations(p.get('operation') || '');
    if (!alive) return;
    if (want) await search(); else root.dataset.state = 'ready';
  })().catch((e) => { if (alive) { ctx.setError(e); root.dataset.state = 'error'; } });
  return () => { alive = false; };
}

/** The list of found traces, newest first. */
function resultTable(traces) {
  const th = (t) => h('th', { scope: 'col' }, t);
  return h('div', { class: 'scroll' }, h('table', { class: 'data traces-list' },
    h('thead', null, h('tr', null, th('Trace'), th('Spans'), th('Errors'), th('Duration'), th('Started'))),
    h('tbody', null, traces.map((t) => {
      const root = t.roots[0];
      return h('tr', { class: t.errors ? 'trace-row trace-error' : 'trace-row', 'data-trace-id': t.id },
        h('td', null, h('a', { href: traceHash(t.id), class: 'trace-link' },
          h('strong', null, root.service), `: ${root.op}`),
        h('div', { class: 'legend-note mono' }, t.id, ' · ', t.services.join(', '))),
        h('td', { class: 'num' }, t.spans.length),
        h('td', { class: 'num' }, t.errors ? h('span', { class: 'err-mark', title: 'spans with errors' }, `⚠ ${t.errors}`) : '0'),
        h('td', { class: 'num' }, fmtDuration((t.end - t.start) / 1e6)),
        h('td', null, fmtTime(t.start / 1000)));
    }))));
}

/** Durations against start times, one dot per trace (errors red); a dot opens its trace. */
function drawScatter(el, traces, ctx) {
  if (!traces.length) { el.replaceChildren(); return; }
  const NS = 'http://www.w3.org/2000/svg';
  const s = (tag, attrs, ...kids) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.append(...kids);
    return e;
  };
  const W = Math.max(300, (el.clientWidth || 1000) - 2), H = 120, left = 56, right = 12, top = 12, bottom = 12;
  const t0 = Math.min(...traces.map((t) => t.start)), t1 = Math.max(...traces.map((t) => t.start));
  const dmax = Math.max(...traces.map((t) => t.end - t.start), 1);
  const x = (t) => left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (W - left - right) : (W - left - right) / 2);
  const y = (dur) => H - bottom - (dur / dmax) * (H - top - bottom);
  const svg = s('svg', { width: W, height: H, class: 'scatter', role: 'img',
    'aria-label': `Durations of ${traces.length} traces, longest ${fmtDuration(dmax / 1e6)}` },
  s('line', { x1: left, y1: H - bottom, x2: W - right, y2: H - bottom, class: 'axis' }),
  s('line', { x1: left, y1: top, x2: left, y2: H - bottom, class: 'axis' }),
  s('text', { x: left - 6, y: top + 4, class: 'axis-label', 'text-anchor': 'end' }, fmtDuration(dmax / 1e6)),
  s('text', { x: left - 6, y: H - bottom + 4, class: 'axis-label', 'text-anchor': 'end' }, '0'),
  ...traces.map((t) => {
    const c = s('circle', { cx: x(t.start).toFixed(1), cy: y(t.end - t.start).toFixed(1), r: 5,
      class: t.errors ? 'dot dot-error' : 'dot' },
    s('title', {}, `${t.roots[0].service}: ${t.roots[0].op} — ${fmtDuration((t.end - t.start) / 1e6)}`));
    c.addEventListener('click', () => ctx.navigate(traceHash(t.id)));
    return c;
  }));
  el.replaceChildren(svg);
}

function mountTrace(root, ctx, id) {
  const head = h('div', { id: 'trace-head' });
  const wf = h('div', { id: 'trace-waterfall', class: 'waterfall' });
  const detail = h('div', { id: 'trace-span-detail', class: 'panel', 'aria-live': 'polite' });
  let alive = true;
  root.append(h('h1', null, 'Trace ', h('code', null, id)),
    h('div', { class: 'row' }, h('a', { href: '#/traces' }, '← Trace search')),
    h('div', { class: 'panel' }, idBox(ctx, id)), head, wf, detail);
  root.dataset.state = 'loading';
  ctx.api.get(`/jaeger/api/traces/${encodeURIComponent(id)}`).then(({ data }) => {
    if (!alive) return;
    if (!data || !data.length || !data[0].spans.length) throw new Error(`trace ${id} not found`);
    const model = traceModel(data[0]);
    const rootSpan = model.roots[0];
    const startS = Math.floor(model.start / 1e6), endS = Math.ceil(model.end / 1e6);
    const services = model.services.map((s) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')).join('|');
    const logs = `{service_name=~\`${services}\`} | trace_id="${model.id}"`;
    const red = `sum by (status_code) (rate(traces_spanmetrics_calls_total{service="${rootSpan.service.replace(/["\\]/g, '\\$&')}"}[5m]))`;
    fill(head, h('div', { class: 'panel trace-summary' },
      h('h2', null, h('strong', null, rootSpan.service), `: ${rootSpan.op}`),
      h('dl', { class: 'kv' },
        h('dt', null, 'Started'), h('dd', null, fmtTime(model.start / 1000)),
        h('dt', null, 'Duration'), h('dd', null, fmtDuration((model.end - model.start) / 1e6)),
        h('dt', null, 'Spans'), h('dd', { id: 'trace-span-count' }, model.spans.length),
        h('dt', null, 'Services'), h('dd', null, model.services.join(', ')),
        h('dt', null, 'Errors'), h('dd', null, model.errors ? h('span', { class: 'err-mark' }, `⚠ ${model.errors}`) : '0')),
      h('p', { class: 'row' },
        h('a', { id: 'trace-logs-link', href: `#/logs?${new URLSearchParams({ q: logs, range: `${startS - 3600},${endS + 3600}` })}` }, 'Logs for this trace'),
        h('a', { id: 'trace-red-link', href: `#/promql?${new URLSearchParams({ q: red, range: '1h' })}` }, `RED metrics of ${rootSpan.service}`))));
    waterfall(wf, detail, model);
    root.dataset.state = 'ready';
  }).catch((e) => {
    if (!alive) return;
    fill(wf, h('p', { class: 'error' }, e.status === 404 ? `Trace ${id} was not found.` : String(e.message || e)));
    if (e.status !== 404) ctx.setError(e);
    root.dataset.state = 'error';
  });
  return () => { alive = false; };
}
