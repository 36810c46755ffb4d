// Renaming in place: a row's name becomes a field holding the whole path, so that a new name
// renames and a new folder in the path moves. Enter submits; Escape, or leaving the field,
// gives up and puts the name back.

import { h, replace } from '../shared/dom.js';
import { nameOf, pathProblem } from '../lib/paths.js';

/**
 * Edits `path` in `cell`. `submit(to)` moves it (the view then re-renders the row);
 * `onError(error)` hears what went wrong, the field staying open; `onCancel()` when given up.
 */
export function editPath(cell, path, { submit, onError, onCancel }) {
  const input = h('input.rename', {
    type: 'text',
    value: path,
    'data-test': 'rename-input',
    'aria-label': `New path for ${path}`,
    spellcheck: 'false',
  });
  const before = [...cell.childNodes];
  const cancel = () => {
    replace(cell, before);
    onCancel();
  };
  input.addEventListener('keydown', async (event) => {
    if (event.key === 'Escape') return cancel();
    if (event.key !== 'Enter') return;
    const to = input.value.normalize('NFC');
    if (to === path) return cancel();
    const problem = pathProblem(to);
    if (problem) return onError(new Error(problem));
    input.disabled = true;
    try {
      await submit(to);
    } catch (error) {
      input.disabled = false;
      input.focus();
      onError(error);
    }
  });
  input.addEventListener('blur', () => {
    if (!input.disabled) cancel();
  });
  replace(cell, input);
  input.focus();
  // The name is selected, so that typing renames; the folders before it stay to be edited.
  input.setSelectionRange(path.length - nameOf(path).length, path.length);
}
