// Exemplars (`/api/v1/query_exemplars`'s data) drawn as small buttons over a uPlot chart:
// placed at (timestamp, value) on every redraw (zoom, resize), each a link to its trace.

import { h } from './dom.js';

const TRACE_KEYS = ['trace_id', 'traceID', 'traceId', 'trace.id'];

/**
 * Draws `data` (`[{seriesLabels, exemplars: [{labels, value, timestamp}]}]`) over `plot`
 * (a uPlot instance). `open(traceId)` is called when one with a trace id is clicked.
 * Returns the number of exemplars drawn.
 */
export function drawExemplars(plot, data, open) {
  const points = [];
  for (const s of data) {
    for (const e of s.exemplars || []) {
      const labels = e.labels || {};
      const key = TRACE_KEYS.find((k) => labels[k]);
      points.push({ t: Number(e.timestamp), v: Number(e.value), trace: key ? labels[key] : null, labels });
    }
  }
  if (!points.length) return 0;
  const layer = h('div', { class: 'exemplars', style: 'position:absolute;inset:0;pointer-events:none' });
  const buttons = points.map((p) => {
    const text = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(' ');
    const b = h('button', {
      type: 'button', class: 'exemplar', title: `exemplar ${p.v} ${text}`,
      'aria-label': p.trace ? `Exemplar ${p.v}, open trace ${p.trace}` : `Exemplar ${p.v}`,
      'data-trace-id': p.trace || null,
      style: 'position:absolute;width:9px;height:9px;padding:0;margin:-4px 0 0 -4px;border:1px solid #fff;'
        + 'background:#d9480f;transform:rotate(45deg);border-radius:1px;pointer-events:auto;cursor:pointer',
      onclick: () => { if (p.trace) open(p.trace); },
    });
    return b;
  });
  layer.append(...buttons);
  plot.over.append(layer);
  const place = (u) => {
    points.forEach((p, i) => {
      const x = u.valToPos(p.t, 'x');
      const y = u.valToPos(p.v, 'y');
      const inside = Number.isFinite(x) && Number.isFinite(y) && x >= 0 && y >= 0
        && x <= u.over.clientWidth && y <= u.over.clientHeight;
      buttons[i].hidden = !inside;
      buttons[i].style.left = `${x}px`;
      buttons[i].style.top = `${y}px`;
    });
  };
  plot.hooks.draw = [...(plot.hooks.draw || []), place];
  place(plot);
  return points.length;
}
