// Makes an element a drop target for files and folders: it is highlighted while something is
// dragged over it, and what is dropped is read (lib/drop.js) and handed on.

import { takeDrop } from '../lib/drop.js';

/** `onFiles([{ blob, relative }])` after each drop; `onError(error)` if it cannot be read. */
export function dropTarget(element, onFiles, onError) {
  // dragenter and dragleave fire for every child crossed: count them to know when it left.
  let depth = 0;
  element.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth += 1;
    element.classList.add('dragging');
  });
  element.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  element.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) element.classList.remove('dragging');
  });
  element.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    element.classList.remove('dragging');
    if (!event.dataTransfer) return;
    const read = takeDrop(event.dataTransfer);
    read().then(onFiles, onError);
  });
}
