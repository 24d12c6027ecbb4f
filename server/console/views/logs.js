// The logs view (to be built).

import { h } from '../lib/dom.js';

/** Mounts the view into `root`. */
export function mount(root) {
  root.append(h('h1', null, 'logs'), h('p', { class: 'muted' }, 'Not built yet.'));
}
