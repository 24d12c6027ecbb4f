// The server status view: version, uptime, memory, WAL and flush state, the ingest budget,
// compaction, the tenant's limits, disk by signal and partition against the budget and
// retention, and the configuration in force (secrets hidden by the server). From
// `/api/v1/status/{runtimeinfo,limits,disk,config}`; refreshed every 10 s while visible.

import { h, fill, table, fmtNum, fmtBytes, fmtDuration, fmtTime, gauge, useCss } from '../lib/dom.js';

const REFRESH_MS = 10000;

/** A `<dl>` of `[label, value]` pairs (pairs whose value is undefined are left out). */
function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined)
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v === null ? '–' : v)]));
}

/** A panel with a title. */
function panel(title, body) {
  return h('div', { class: 'panel' }, h('h2', { style: 'margin-top:0' }, title), body);
}

/** Any further scalar fields of `obj` (those not in `known`), as `[key, text]` pairs. */
function rest(obj, known) {
  return Object.entries(obj || {}).filter(([k, v]) => !known.includes(k) && (v === null || typeof v !== 'object'))
    .map(([k, v]) => [k, v === null ? null : String(v)]);
}

/** A gauge of bytes (lib/dom.js's, with its note in KiB/MiB/GiB). */
function bytesGauge(used, limit, label) {
  const el = gauge(used, limit, label);
  const note = el.querySelector('.legend-note');
  if (note) note.textContent = `${fmtBytes(used)} of ${fmtBytes(limit)} (${((100 * used) / limit).toFixed(1)}%)`;
  return el;
}

const when = (v, f) => (v === undefined ? undefined : v === null ? null : f(v));

function serverPanels(r) {
  const m = r.memory || {}, w = r.wal || {}, f = r.flush || {}, b = r.ingestBudget || {};
  const c = r.compaction || {}, ret = r.retention || {};
  return [
    panel('Server', kv([
      ['Version', when(r.version, (v) => h('strong', { id: 'status-version' }, v))],
      ['Role', when(r.role, String)],
      ['Started', when(r.startTime, String)],
      ['Uptime', when(r.uptimeSeconds, fmtDuration)],
      ['Data directory', when(r.dataDir, (v) => h('code', null, v))],
      ['Retention', when(r.storageRetention, String)],
      ['Tenants', when(r.tenants, (t) => t.join(', '))],
      ...rest(r, ['version', 'role', 'startTime', 'uptimeSeconds', 'dataDir', 'storageRetention', 'tenants']),
    ])),
    panel('Memory', [
      m.limitBytes && m.anonymousBytes != null
        ? bytesGauge(m.anonymousBytes, m.limitBytes, 'Process memory (anonymous) against the memory limit') : null,
      m.maxHeadBytes ? bytesGauge(m.headBytes ?? 0, m.maxHeadBytes, 'Head memory against its limit') : null,
      m.queryPoolBytes ? bytesGauge(m.queryPoolUsedBytes ?? 0, m.queryPoolBytes, 'Query memory pool in use') : null,
      kv([['Resident (RSS)', when(m.rssBytes, fmtBytes)], ['Peak RSS', when(m.peakRssBytes, fmtBytes)],
        ['Head', when(m.headBytes, fmtBytes)], ['Head limit', when(m.maxHeadBytes, fmtBytes)],
        ...rest(m, ['rssBytes', 'peakRssBytes', 'headBytes', 'maxHeadBytes'])])]),
    panel('WAL', kv([['On disk', when(w.diskBytes ?? w.bytes, fmtBytes)], ['Segments', when(w.segments, fmtNum)],
      ['Written', when(w.bytesWritten, fmtBytes)], ['Appends', when(w.appends, fmtNum)],
      ['Records', when(w.records, fmtNum)], ['Fsyncs', when(w.fsyncs, fmtNum)],
      ['Durability', when(w.durability, String)],
      ...rest(w, ['diskBytes', 'bytes', 'segments', 'bytesWritten', 'appends', 'records', 'fsyncs', 'durability'])])),
    panel('Flush', kv([['Flushes', when(f.count, fmtNum)], ['Time spent', when(f.totalSeconds, fmtDuration)],
      ['Last took', when(f.lastSeconds, fmtDuration)], ['Last at', when(f.lastTime, String)],
      ...rest(f, ['count', 'totalSeconds', 'lastSeconds', 'lastTime'])])),
    panel('Ingest budget', [
      b.maxInflightBytes ? bytesGauge(b.inflightBytes ?? 0, b.maxInflightBytes, 'Bytes in flight against the ingest budget') : null,
      kv([['In flight', when(b.inflightBytes, fmtBytes)], ['Budget', when(b.maxInflightBytes, fmtBytes)],
        ['Writes that waited', when(b.waits, fmtNum)], ['Writes refused', when(b.refused, fmtNum)],
        ...rest(b, ['inflightBytes', 'maxInflightBytes', 'waits', 'refused'])])]),
    panel('Compaction and retention', kv([
      ['Waiting for compaction', c.backlogPartitions === undefined ? '–'
        : `${fmtNum(c.backlogPartitions)} partitions, ${fmtNum(c.backlogFileSets)} file sets, ${fmtBytes(c.backlogBytes)}`],
      ['Compaction passes', when(c.passes, fmtNum)], ['Compaction time', when(c.totalSeconds, fmtDuration)],
      ['Retention passes', when(ret.passes, fmtNum)], ['Retention time', when(ret.totalSeconds, fmtDuration)],
      ...rest(c, ['backlogPartitions', 'backlogFileSets', 'backlogBytes', 'passes', 'totalSeconds'])
        .map(([k, v]) => [`compaction ${k}`, v])])),
  ];
}

function limitsPanel(l) {
  const s = l.series || {}, i = l.ingest || {}, ret = l.retentionSeconds || {};
  return panel(`Limits${l.tenant ? ` · tenant ${l.tenant}` : ''}`, [
    s.maxActive ? gauge(s.active ?? 0, s.maxActive, 'Active series against max_active_series') : null,
    kv([['Active series', when(s.active, fmtNum)], ['Max active series', s.maxActive ? fmtNum(s.maxActive) : 'no limit'],
      ['Max series per metric', s.maxPerMetric ? fmtNum(s.maxPerMetric) : 'no limit'],
      ['Ingest rate', when(i.rate, (v) => `${fmtNum(Math.round(v))}/s`)],
      ['Ingest rate limit', i.rateLimit ? `${fmtNum(i.rateLimit)}/s (burst ${fmtNum(i.burst)})` : 'no limit'],
      ...Object.entries(ret).map(([sig, v]) => [`Retention of ${sig}`, v ? fmtDuration(v) : 'forever']),
      ['Disk budget', l.diskBudgetBytes ? fmtBytes(l.diskBudgetBytes) : 'none']])]);
}

function diskPanel(d) {
  const signals = d.signals || [];
  return [
    h('p', null, `Total ${fmtBytes(d.totalBytes)}`, d.tenant ? ` for tenant ${d.tenant}` : '',
      d.budgetBytes ? '' : ' (no disk budget set)'),
    d.budgetBytes ? bytesGauge(d.totalBytes ?? 0, d.budgetBytes, 'Disk use against the budget') : null,
    signals.map((s) => h('div', { class: 'panel', 'data-signal': s.signal },
      h('h2', { style: 'margin-top:0', class: 'sig-title' }, `${s.signal} · ${fmtBytes(s.bytes)}`,
        h('span', { class: 'muted' }, s.retentionSeconds ? ` · retention ${fmtDuration(s.retentionSeconds)}` : ' · kept forever')),
      (s.partitions || []).length ? table([
        { key: 'start', label: 'Partition start', render: (p) => fmtTime(p.start) },
        { key: 'end', label: 'End', render: (p) => fmtTime(p.end) },
        { key: 'fileSets', label: 'File sets', num: true, render: (p) => fmtNum(p.fileSets) },
        { key: 'bytes', label: 'Size', num: true, render: (p) => fmtBytes(p.bytes) },
        { key: 'expires', label: 'Expires', render: (p) => (s.retentionSeconds ? fmtTime(p.end + s.retentionSeconds * 1000) : '–') },
      ], s.partitions) : h('p', { class: 'muted' }, 'Nothing flushed to disk yet.'))),
  ];
}

/** Mounts the view into `root`. */
export function mount(root, ctx) {
  useCss('/console/views/explore.css');
  const { api } = ctx;
  let alive = true;
  let timer = null;

  const server = h('div', { id: 'status-server', class: 'grid status-grid' });
  const limits = h('div', { id: 'status-limits' });
  const disk = h('div', { id: 'status-disk' });
  const config = h('pre', { id: 'status-config', class: 'block', tabindex: '0', 'aria-label': 'Configuration in force' });
  const updated = h('span', { class: 'legend-note', id: 'status-updated' });
  root.append(h('h1', null, 'Server status ', updated), server, limits,
    h('h2', null, 'Disk by signal and partition'), disk,
    h('h2', null, 'Configuration in force (secrets hidden)'), config);

  async function load() {
    if (!root.dataset.state) root.dataset.state = 'loading';
    const names = ['runtimeinfo', 'limits', 'disk', 'config'];
    const answers = await Promise.allSettled(names.map((n) => api.get(`/api/v1/status/${n}`)));
    if (!alive) return;
    const [rt, lim, dk, cfg] = answers.map((a) => (a.status === 'fulfilled' ? a.value.data || {} : null));
    if (rt) fill(server, serverPanels(rt));
    if (lim) fill(limits, limitsPanel(lim));
    if (dk) fill(disk, diskPanel(dk));
    if (cfg) fill(config, cfg.toml ?? JSON.stringify(cfg, null, 1));
    const failed = answers.map((a, i) => [names[i], a]).filter(([, a]) => a.status === 'rejected');
    if (failed.length) {
      ctx.setError(failed.map(([n, a]) => `/api/v1/status/${n}: ${a.reason.status ? `${a.reason.status}: ` : ''}${a.reason.message}`).join('\n'));
      root.dataset.state = 'error';
    } else {
      ctx.clearError();
      root.dataset.state = 'ready';
    }
    fill(updated, `· updated ${fmtTime(Date.now())}, every ${REFRESH_MS / 1000} s`);
  }

  load();
  timer = setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
  return () => { alive = false; clearInterval(timer); };
}
