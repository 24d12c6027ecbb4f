// An autocomplete list under a textarea (a combobox), for the PromQL and LogQL boxes:
// suggestions come from an async `provider(text, caret)` answering `{from, items: [{value,
// label?, insert?, detail?}]}` (or null), where `from` is where the replaced word starts
// (`label` is shown, `insert` inserted, both default to `value`). Up/Down move, Tab/Enter accept, Escape
// closes, Ctrl+Space opens; with the list closed, Enter calls `onEnter()` (Shift+Enter is a
// newline). The list has role="listbox" and the textarea aria-activedescendant.

import { h } from './dom.js';

const MAX_ITEMS = 50;

/**
 * Attaches the list to `input` (a textarea inside a positioned wrapper). With `reopen`,
 * accepting an item asks for suggestions again at once (a label name's values, say).
 * Returns `{close(), refresh(), list}`.
 */
export function autocomplete(input, { provider, onEnter, id, reopen = false }) {
  const listId = `${id || input.id}-suggest`;
  const list = h('ul', { id: listId, class: 'suggest', role: 'listbox', hidden: true,
    'aria-label': 'Suggestions' });
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-expanded', 'false');
  input.insertAdjacentElement('afterend', list);

  let items = [], active = -1, from = 0, seq = 0;

  function close() {
    list.hidden = true;
    items = [];
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    const li = list.children[i];
    if (li) {
      input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  function show(answer) {
    if (!answer || !answer.items.length) { close(); return; }
    items = answer.items.slice(0, MAX_ITEMS);
    from = answer.from;
    list.replaceChildren(...items.map((it, i) => h('li', {
      id: `${listId}-${i}`, role: 'option', 'aria-selected': 'false',
      // mousedown, not click: keeps the focus in the textarea.
      onmousedown: (e) => { e.preventDefault(); accept(i); },
    }, it.label !== undefined ? it.label : it.value, it.detail ? h('span', { class: 'legend-note' }, ` ${it.detail}`) : null)));
    list.style.left = `${input.offsetLeft}px`;
    list.style.top = `${input.offsetTop + input.offsetHeight}px`;
    list.style.minWidth = '240px';
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(0);
  }

  function accept(i) {
    const it = items[i];
    if (!it) return;
    const caret = input.selectionStart;
    const text = input.value;
    const insert = it.insert !== undefined ? it.insert : it.value;
    input.value = text.slice(0, from) + insert + text.slice(caret);
    const pos = from + insert.length;
    input.setSelectionRange(pos, pos);
    close();
    input.dispatchEvent(new Event('change'));
    if (reopen) refresh();
  }

  async function refresh() {
    const mine = ++seq;
    let answer = null;
    try {
      answer = await provider(input.value, input.selectionStart);
    } catch (_) {
      answer = null; // suggestions are a convenience: a failed lookup shows none
    }
    if (mine === seq && document.activeElement === input) show(answer);
  }

  // A list shown for older text must not be accepted: close it at once, ask again.
  input.addEventListener('input', () => { close(); refresh(); });
  input.addEventListener('blur', () => { seq++; close(); });
  input.addEventListener('keydown', (e) => {
    const open = !list.hidden && items.length > 0;
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); refresh(); return; }
    if (open) {
      if (e.key === 'ArrowDown') { e.preventDefault(); highlight((active + 1) % items.length); return; }
      if (e.key === 'ArrowUp') { e.preventDefault(); highlight((active - 1 + items.length) % items.length); return; }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey)) {
        e.preventDefault(); accept(active); return;
      }
      if (e.key === 'Escape') { e.preventDefault(); seq++; close(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      seq++;
      close();
      if (onEnter) onEnter();
    }
  });
  return { close, refresh, list };
}
