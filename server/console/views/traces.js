// The traces view (to be built).

import { h } from '../lib/dom.js';

/** Mounts the view into `root`. */
export function mount(root) {
  root.append(h('h1', null, 'traces'), h('p', { class: 'muted' }, 'Not built yet.'));
}
