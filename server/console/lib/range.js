// Time ranges: a picker of relative ranges ("last 1h") or absolute ones, and the step a
// range query should use.

import { h, field } from './dom.js';

export const PRESETS = ['5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];

/** Seconds of a Prometheus duration such as "90s", "1h30m", "7d"; NaN if malformed. */
export function parseDuration(text) {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0, seen = '', m;
  while ((m = re.exec(text)) !== null) { total += Number(m[1]) * unit[m[2]]; seen += m[0]; }
  return seen === text && text !== '' ? total : NaN;
}

/** A step (seconds) that gives about `points` points over `[start, end]`, at least 1 s. */
export function autoStep(start, end, points = 250) {
  const raw = Math.max(1, (end - start) / points);
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  return nice.find((n) => n >= raw) || Math.ceil(raw);
}

/**
 * A range picker: a select of presets plus "custom" (two datetime-local inputs).
 * `initial`: a preset ("1h") or `{start, end}` in seconds. `onChange()` is called after a
 * change. Returns `{el, range()}`; `range()` is `{start, end}` in seconds (now-relative
 * ranges are evaluated at call time).
 */
export function rangePicker(initial = '1h', onChange = () => {}) {
  const preset = h('select', { 'aria-label': 'Time range' },
    PRESETS.map((p) => h('option', { value: p, selected: p === initial }, `Last ${p}`)),
    h('option', { value: 'custom', selected: typeof initial === 'object' }, 'Custom…'));
  const toLocal = (s) => new Date(s * 1000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = Date.now() / 1000;
  const from = h('input', { type: 'datetime-local', value: toLocal(typeof initial === 'object' ? initial.start : now - 3600) });
  const to = h('input', { type: 'datetime-local', value: toLocal(typeof initial === 'object' ? initial.end : now) });
  const custom = h('span', { class: 'row', hidden: preset.value !== 'custom' }, field('From', from), field('To', to));
  preset.addEventListener('change', () => { custom.hidden = preset.value !== 'custom'; onChange(); });
  from.addEventListener('change', onChange);
  to.addEventListener('change', onChange);
  const el = h('span', { class: 'row' }, field('Range', preset), custom);
  return {
    el,
    range() {
      if (preset.value !== 'custom') {
        const end = Math.floor(Date.now() / 1000);
        return { start: end - parseDuration(preset.value), end };
      }
      return { start: new Date(from.value).getTime() / 1000, end: new Date(to.value).getTime() / 1000 };
    },
    /** The picker's state for a URL: the preset, or "start,end". */
    value() {
      if (preset.value !== 'custom') return preset.value;
      const r = this.range();
      return `${r.start},${r.end}`;
    },
  };
}

/** The picker's initial value from a URL parameter written by `value()`. */
export function rangeFromParam(param, fallback = '1h') {
  if (!param) return fallback;
  if (PRESETS.includes(param)) return param;
  const [s, e] = param.split(',').map(Number);
  return Number.isFinite(s) && Number.isFinite(e) && e > s ? { start: s, end: e } : fallback;
}
