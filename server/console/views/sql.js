// The SQL view: a query box over `POST /api/v1/sql` (JSON for the table, CSV for the
// download), the row count and timing, and the tenant's tables to start from.
// URL: `#/sql?q=`.

import { h, fill, field, table, fmtNum, fmtDuration, download, useCss } from '../lib/dom.js';

/** Rows shown in the page; the CSV download has them all. */
const SHOWN_ROWS = 1000;
const TABLES_QUERY = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name";

/** The server's own time from `Server-Timing: app;dur=<ms>`, in seconds, or null. */
function serverSeconds(resp) {
  const m = (resp.headers.get('Server-Timing') || '').match(/dur=([\d.]+)/);
  return m ? Number(m[1]) / 1000 : null;
}

/** A cell's content: text for scalars, JSON for maps and lists, a link for trace ids. */
function cell(key, v, navigate) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, 'NULL');
  if (typeof v === 'object') return h('code', null, JSON.stringify(v));
  if (/(^|_)trace_id$/i.test(key) && /^[0-9a-f]{16,32}$/i.test(String(v))) {
    const hash = `#/traces?id=${String(v).toLowerCase()}`;
    return h('a', { href: hash, onclick: (e) => { e.preventDefault(); navigate(hash); } }, String(v));
  }
  return String(v);
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/explore.css');
  const { api, params } = ctx;
  let alive = true;

  const query = h('textarea', { id: 'sql-query', class: 'query', rows: 4, spellcheck: 'false',
    placeholder: "SELECT metric, count(*) FROM metrics GROUP BY metric" });
  query.value = params.get('q') || '';
  const run = h('button', { type: 'button', id: 'sql-run', onclick: () => execute() }, 'Run');
  const csv = h('button', { type: 'button', id: 'sql-csv', class: 'plain', onclick: () => downloadCsv() }, 'Download CSV');
  const stats = h('div', { id: 'sql-stats', class: 'stats', 'aria-live': 'polite' });
  const result = h('div', { id: 'sql-table' });
  const tables = h('ul', { id: 'sql-tables', class: 'tables', style: 'list-style:none;padding:0;margin:0' });

  query.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || !e.shiftKey)) {
      e.preventDefault();
      execute();
    }
  });

  root.append(h('h1', null, 'SQL'),
    h('div', { class: 'grid', style: 'grid-template-columns: 180px minmax(0, 1fr)' },
      h('nav', { class: 'panel', 'aria-labelledby': 'sql-tables-title' },
        h('h2', { id: 'sql-tables-title', style: 'margin-top:0' }, 'Tables'), tables),
      h('div', null,
        h('div', { class: 'panel' },
          field('SQL query', query, 'Enter or Ctrl+Enter runs, Shift+Enter adds a line'),
          h('div', { class: 'row', style: 'margin-top:6px' }, run, csv)),
        stats, result)));

  async function post(text, accept) {
    const t0 = performance.now();
    const resp = await api.raw('/api/v1/sql', { method: 'POST', body: text,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', Accept: accept } });
    return { resp, t0 };
  }

  async function execute() {
    const text = query.value.trim();
    ctx.setParams(text ? { q: text } : {});
    if (!text) return;
    root.dataset.state = 'loading';
    ctx.clearError();
    try {
      const { resp, t0 } = await post(text, 'application/json');
      const rows = await resp.json();
      const roundTrip = (performance.now() - t0) / 1000;
      if (!alive) return;
      show(rows);
      const server = serverSeconds(resp);
      fill(stats, `${fmtNum(rows.length)} row${rows.length === 1 ? '' : 's'}`,
        rows.length > SHOWN_ROWS ? ` (showing the first ${fmtNum(SHOWN_ROWS)}; the CSV has all)` : '',
        ' · ', server !== null ? `server ${fmtDuration(server)}, ` : '', `round trip ${fmtDuration(roundTrip)}`);
      root.dataset.rows = String(rows.length);
      root.dataset.state = 'ready';
    } catch (e) {
      if (!alive) return;
      root.dataset.state = 'error';
      fill(stats);
      fill(result);
      ctx.setError(e);
    }
  }

  function show(rows) {
    if (!rows.length) { fill(result, h('p', { class: 'muted' }, 'No rows.')); return; }
    const keys = [];
    const seen = new Set();
    for (const r of rows.slice(0, SHOWN_ROWS)) {
      for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); keys.push(k); }
    }
    const columns = keys.map((k) => ({
      key: k, label: k, num: typeof rows[0][k] === 'number',
      render: (r) => cell(k, r[k], ctx.navigate),
    }));
    fill(result, table(columns, rows.slice(0, SHOWN_ROWS)));
  }

  async function downloadCsv() {
    const text = query.value.trim();
    if (!text) return;
    csv.disabled = true;
    try {
      const { resp } = await post(text, 'text/csv');
      const body = await resp.text();
      if (alive) download('strata-query.csv', body, 'text/csv');
    } catch (e) {
      if (alive) ctx.setError(e);
    } finally {
      csv.disabled = false;
    }
  }

  async function loadTables() {
    try {
      const { resp } = await post(TABLES_QUERY, 'application/json');
      const rows = await resp.json();
      if (!alive) return;
      fill(tables, rows.map((r) => h('li', null, h('button', { type: 'button', class: 'plain',
        style: 'margin:2px 0', 'data-table': r.table_name,
        onclick: () => { query.value = `SELECT * FROM ${r.table_name} LIMIT 100`; execute(); } }, r.table_name))));
    } catch (e) {
      if (alive) fill(tables, h('li', { class: 'muted' }, `cannot list tables: ${e.message}`));
    }
  }

  loadTables();
  if (query.value.trim()) execute();
  else root.dataset.state = 'ready';
  return () => { alive = false; };
}
