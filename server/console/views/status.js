// The status view (to be built).

import { h } from '../lib/dom.js';

/** Mounts the view into `root`. */
export function mount(root) {
  root.append(h('h1', null, 'status'), h('p', { class: 'muted' }, 'Not built yet.'));
}
