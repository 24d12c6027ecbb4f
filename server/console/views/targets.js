// The scrape targets view: the tenant's targets by job, as `/api/v1/targets` gives them
// (Prometheus's shape): health, endpoint, labels, last scrape, its duration and the last
// error, and how many targets relabeling dropped. Refreshed every 5 s while visible.

import { h, fill, table, fmtNum, fmtTime, useCss } from '../lib/dom.js';

const REFRESH_MS = 5000;

/** `{a: "1"}` -> `a="1"` chips. */
function labels(obj) {
  return h('span', { class: 'labels' }, Object.entries(obj || {})
    .map(([k, v]) => h('code', { class: 'label' }, `${k}="${v}"`)));
}

function health(t) {
  return h('strong', { class: `health health-${t.health}`, 'data-health': t.health }, t.health);
}

/** `lastScrape` (RFC 3339) as "12 s ago"; never scraped as "never". */
function ago(t) {
  const ms = Date.parse(t.lastScrape);
  if (!ms || ms < 0 || t.lastScrape.startsWith('0001-')) return 'never';
  return `${fmtNum(Math.max(0, Math.round((Date.now() - ms) / 1000)))} s ago`;
}

function jobs(data) {
  const active = data.activeTargets || [];
  const dropped = data.droppedTargetCounts || {};
  const byJob = new Map();
  for (const t of active) {
    if (!byJob.has(t.scrapePool)) byJob.set(t.scrapePool, []);
    byJob.get(t.scrapePool).push(t);
  }
  for (const job of Object.keys(dropped)) if (!byJob.has(job)) byJob.set(job, []);
  if (!byJob.size) {
    return h('p', { class: 'muted' }, 'No scrape targets. Name Prometheus files under [scrape] files (docs/scrape.md).');
  }
  return [...byJob.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([job, list]) => {
    const up = list.filter((t) => t.health === 'up').length;
    return h('div', { class: 'panel', 'data-job': job },
      h('h2', { style: 'margin-top:0' }, `${job} · ${up} / ${list.length} up`,
        dropped[job] ? h('span', { class: 'muted' }, ` · ${fmtNum(dropped[job])} dropped by relabeling`) : ''),
      list.length ? table([
        { key: 'health', label: 'State', render: health },
        { key: 'scrapeUrl', label: 'Endpoint', render: (t) => h('code', null, t.scrapeUrl) },
        { key: 'labels', label: 'Labels', render: (t) => labels(t.labels) },
        { key: 'lastScrape', label: 'Last scrape', render: ago },
        { key: 'lastScrapeDuration', label: 'Took', num: true, render: (t) => `${(t.lastScrapeDuration * 1000).toFixed(1)} ms` },
        { key: 'scrapeInterval', label: 'Every', render: (t) => `${t.scrapeInterval} (timeout ${t.scrapeTimeout})` },
        { key: 'lastError', label: 'Error', render: (t) => (t.lastError ? h('span', { class: 'error-text' }, t.lastError) : '') },
      ], list) : h('p', { class: 'muted' }, 'Every target of this job was dropped by relabeling.'));
  });
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/explore.css');
  let alive = true;
  const list = h('div', { id: 'targets-list' });
  const updated = h('span', { class: 'legend-note', id: 'targets-updated' });
  root.append(h('h1', null, 'Scrape targets ', updated), list);

  async function load() {
    if (!root.dataset.state) root.dataset.state = 'loading';
    try {
      const { data } = await ctx.api.get('/api/v1/targets');
      if (!alive) return;
      fill(list, jobs(data || {}));
      ctx.clearError();
      root.dataset.state = 'ready';
    } catch (e) {
      if (!alive) return;
      ctx.setError(e);
      root.dataset.state = 'error';
    }
    fill(updated, `· updated ${fmtTime(Date.now())}, every ${REFRESH_MS / 1000} s`);
  }

  load();
  const timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
  return () => { alive = false; clearInterval(timer); };
}
