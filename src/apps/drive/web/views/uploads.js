// The upload queue: files dropped or picked go up a few at a time (each is chunked, sealed and
// stored by the gateway while it arrives; small files sent together share the gateway's
// requests to the nodes), each with its own progress bar. The queue outlives
// a change of folder, so the panel is one element the drive view moves into place.

import { h, replace } from '../shared/dom.js';
import { patiently, upload } from '../lib/files-api.js';
import { formatBytes, percent, uploadMediaType } from '../lib/kinds.js';
import { joinPath } from '../lib/paths.js';

const panel = h('section.uploads', { 'data-test': 'uploads', 'aria-live': 'polite' });
const queue = [];
/**
 * Uploads under way at most: enough for small files to share the gateway's requests to the
 * nodes, few enough for each file's bar to keep moving.
 */
const PARALLEL = 3;
let running = 0;
const listeners = new Set();

// Leaving the page would cut the uploads off: the browser asks first.
window.addEventListener('beforeunload', (event) => {
  if (running > 0) event.preventDefault();
});

/** The queue's panel, to place in the view. */
export function uploadsPanel() {
  return panel;
}

/** Calls `listener(space, path)` after each upload that ends in the tree. */
export function onUploaded(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function row(item) {
  const bar = h('progress', { max: 100, value: 0, 'data-test': 'upload-progress' });
  const label = h('span.upload-percent', { 'data-test': 'upload-percent' }, '0%');
  const status = h('span.upload-status', { 'data-test': 'upload-status' }, 'Waiting…');
  const cancel = h(
    'button.small.ghost',
    { type: 'button', title: 'Cancel this upload', onclick: () => item.controller.abort() },
    'Cancel',
  );
  const element = h(
    'div.upload',
    { 'data-test': 'upload', 'data-path': item.path, 'data-state': 'waiting' },
    h('span.upload-name', { title: item.path }, item.path),
    h('span.upload-size', {}, formatBytes(item.blob.size)),
    bar,
    label,
    status,
    cancel,
  );
  const set = (state, text) => {
    element.dataset.state = state;
    status.textContent = text;
    if (state === 'done' || state === 'failed') cancel.remove();
  };
  const progress = (done, total) => {
    // What the browser reported sent, apart from the bar (which a finished upload fills).
    element.dataset.sent = String(done);
    const p = percent(done, total);
    bar.value = p;
    label.textContent = `${p}%`;
  };
  const finish = () => {
    bar.value = 100;
    label.textContent = '100%';
  };
  return { element, set, progress, finish };
}

function sendOne(item) {
  const view = item.view;
  return upload(item.space, item.path, item.blob, {
    mediaType: uploadMediaType(item.blob.type, item.name),
    modified: item.blob.lastModified || undefined,
    signal: item.controller.signal,
    onProgress: (sent, total) => {
      view.progress(sent, total);
      if (sent >= total) view.set('storing', 'Sealing and storing…');
    },
  });
}

async function next(item) {
  const view = item.view;
  if (item.controller.signal.aborted) {
    view.set('failed', 'Cancelled');
    return;
  }
  view.set('uploading', 'Uploading…');
  try {
    const answer = await patiently(() => sendOne(item));
    view.finish();
    view.set(
      'done',
      `Stored: ${formatBytes(answer.sent?.bytes ?? 0)} sent, ${formatBytes(answer.reused?.bytes ?? 0)} already there`,
    );
    for (const listener of listeners) listener(item.space, item.path);
  } catch (error) {
    view.set('failed', `Failed: ${error.message}`);
  }
}

/** Starts uploads from the queue until PARALLEL run; each that ends starts the next. */
function run() {
  while (running < PARALLEL && queue.length > 0) {
    const item = queue.shift();
    running += 1;
    void next(item).finally(() => {
      running -= 1;
      run();
    });
  }
}

/**
 * Queues files for upload into `folder` of a drive: [{ blob, relative }] where `relative` is
 * the file's path below the folder (its name, or `sub/name` from a dropped folder).
 */
export function enqueue(space, folder, files) {
  if (files.length === 0) return;
  if (panel.childElementCount === 0) {
    replace(
      panel,
      h(
        'div.uploads-head',
        {},
        h('h3', {}, 'Uploads'),
        h(
          'button.small.ghost',
          {
            type: 'button',
            'data-test': 'clear-uploads',
            onclick: () => {
              for (const element of panel.querySelectorAll('.upload')) {
                if (['done', 'failed'].includes(element.dataset.state)) element.remove();
              }
              if (!panel.querySelector('.upload')) replace(panel);
            },
          },
          'Clear finished',
        ),
      ),
    );
  }
  for (const { blob, relative } of files) {
    const item = {
      space,
      path: joinPath(folder, relative),
      name: relative.slice(relative.lastIndexOf('/') + 1),
      blob,
      controller: new AbortController(),
    };
    item.view = row(item);
    panel.append(item.view.element);
    queue.push(item);
  }
  run();
}
