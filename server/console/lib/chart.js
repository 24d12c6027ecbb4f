// Charts over uPlot (vendor/uPlot.iife.min.js, loaded by index.html as window.uPlot).

const PALETTE = ['#2458c6', '#d9480f', '#2b8a3e', '#862e9c', '#c2255c', '#1098ad', '#e67700',
  '#5c940d', '#364fc7', '#a61e4d', '#0b7285', '#5f3dc4'];

/** The color of series number `i`. */
export function color(i) { return PALETTE[i % PALETTE.length]; }

function sizeOf(el, height) {
  return { width: Math.max(300, el.clientWidth || 800), height };
}

function mount(el, opts, data) {
  if (!window.uPlot) throw new Error('uPlot did not load');
  el.replaceChildren();
  const plot = new window.uPlot({ ...opts, ...sizeOf(el, opts.height || 280) }, data, el);
  const ro = new ResizeObserver(() => plot.setSize(sizeOf(el, opts.height || 280)));
  ro.observe(el);
  return { plot, destroy() { ro.disconnect(); plot.destroy(); } };
}

/**
 * A line chart of several series over time. `series`: `[{label, points: [[tSeconds,
 * value], ...]}]` (times need not line up: they are merged, gaps stay gaps). Returns
 * `{plot, destroy()}`.
 */
export function lineChart(el, { series, yLabel, height }) {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const col = new Array(times.length).fill(null);
    for (const [t, v] of s.points) col[index.get(t)] = v;
    return col;
  });
  const opts = {
    height,
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: color(i), width: 1.5, spanGaps: false }))],
    axes: [{}, { label: yLabel || '', size: 60 }],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
  };
  return mount(el, opts, [times, ...columns]);
}

/**
 * A bar chart over time (stacked bars are not drawn; series overlap in order).
 * `times`: seconds; `series`: `[{label, values}]`, one value per time.
 */
export function barChart(el, { times, series, yLabel, height }) {
  const bars = window.uPlot.paths.bars({ size: [0.8, 40] });
  const opts = {
    height: height || 160,
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: color(i), fill: `${color(i)}99`, paths: bars }))],
    axes: [{}, { label: yLabel || '', size: 60 }],
    legend: { live: true },
  };
  return mount(el, opts, [times, ...series.map((s) => s.values)]);
}
