// A file's panel: what it is, a preview (images through the content route, text through one
// Range request for its first 64 KiB), and its versions, each of which can be opened and
// downloaded. Everything a file carries (its name above all) is shown as text.

import { h, replace } from '../shared/dom.js';
import { shortId } from '../shared/identity.js';
import { contentUrl, readStart, stat } from '../lib/files-api.js';
import { formatBytes, previewKind, previewText, TEXT_PREVIEW_BYTES } from '../lib/kinds.js';
import { icon } from '../lib/icons.js';

function downloadLink(space, file, version, label = 'Download') {
  return h(
    'a.button.small',
    {
      href: contentUrl(space, file.path, { version, download: true }),
      download: file.name,
      'data-test': 'download',
    },
    icon('download'),
    label,
  );
}

async function renderPreview(box, space, file, version) {
  const kind = previewKind(file);
  box.dataset.kind = kind;
  if (kind === 'image') {
    const image = h('img.preview-image', {
      alt: file.name,
      'data-test': 'preview-image',
      src: contentUrl(space, file.path, { version }),
    });
    replace(box, image);
    return;
  }
  if (kind === 'none') {
    replace(box, h('p.hint', {}, 'No preview for this kind of file: download it to open it.'));
    return;
  }
  if (file.size === 0) {
    replace(box, h('p.hint', { 'data-test': 'preview-empty' }, 'This file is empty.'));
    return;
  }
  replace(box, h('p.hint', {}, 'Loading the preview…'));
  const { bytes, total, complete } = await readStart(space, file.path, version);
  const { text, binary } = previewText(bytes, complete);
  if (binary) {
    replace(box, h('p.hint', {}, 'This file does not hold text: download it to open it.'));
    return;
  }
  replace(
    box,
    h('pre.preview-text', { 'data-test': 'preview-text', 'data-bytes': bytes.length }, text),
    complete
      ? null
      : h(
          'p.hint',
          { 'data-test': 'preview-cut' },
          `The first ${TEXT_PREVIEW_BYTES / 1024} KiB of ${formatBytes(total)}: download the file for the rest.`,
        ),
  );
}

function versionRow(space, file, version, current, open) {
  return h(
    'li.version',
    {
      'data-test': 'version',
      'data-version': version.version,
      'data-current': current ? 'true' : 'false',
    },
    h(
      'div.version-main',
      {},
      h('strong', {}, current ? 'Current' : 'Earlier'),
      h(
        'span.hint',
        {},
        ` ${formatBytes(version.size)} · ${new Date(version.modified).toLocaleString()}`,
        version.writer
          ? [' · by ', h('code', { title: version.writer }, shortId(version.writer))]
          : null,
      ),
    ),
    h(
      'div.row',
      {},
      current
        ? null
        : h(
            'button.small',
            { type: 'button', 'data-test': 'open-version', onclick: () => open(version) },
            'Open',
          ),
      downloadLink(space, { ...file, size: version.size }, current ? undefined : version.version),
    ),
  );
}

/** Shows file `path` of drive `space` in `panel`; `onClose` when the user closes it. */
export async function showFile(ctx, panel, space, path, onClose) {
  const info = await stat(space, path);
  const file = info.file;
  const previewBox = h('div.preview', { 'data-test': 'preview' });
  const previewTitle = h('h3', { 'data-test': 'preview-title' }, 'Preview');
  const open = async (version) => {
    previewTitle.textContent = `Version of ${new Date(version.modified).toLocaleString()}`;
    previewBox.dataset.version = version.version;
    await renderPreview(
      previewBox,
      space,
      { ...file, ...version, path: file.path },
      version.version,
    ).catch((error) => replace(previewBox, h('p.form-error', {}, error.message)));
    previewBox.scrollIntoView({ block: 'nearest' });
  };
  const earlier = (info.versions ?? []).filter((v) => v.version !== file.version);
  const conflicts = info.conflicts ?? [];
  replace(
    panel,
    h(
      'div.file-head',
      {},
      h('h2.file-title', { 'data-test': 'file-title', title: file.path }, file.name),
      h(
        'button.small.ghost',
        { type: 'button', 'data-test': 'close-file', 'aria-label': 'Close', onclick: onClose },
        icon('close'),
      ),
    ),
    h(
      'dl.file-facts',
      {},
      h('dt', {}, 'Size'),
      h(
        'dd',
        { 'data-test': 'file-size' },
        file.size < 1000
          ? formatBytes(file.size)
          : `${formatBytes(file.size)} (${file.size} bytes)`,
      ),
      h('dt', {}, 'Type'),
      h('dd', {}, file.media_type ?? 'unknown'),
      h('dt', {}, 'Modified'),
      h('dd', {}, new Date(file.modified).toLocaleString()),
      h('dt', {}, 'By'),
      h(
        'dd',
        {},
        file.writer ? h('code', { title: file.writer }, shortId(file.writer)) : 'unknown',
      ),
      h('dt', {}, 'SHA-256'),
      h('dd', {}, h('code', { title: file.sha256 }, `${file.sha256.slice(0, 16)}…`)),
    ),
    h('div.row', {}, downloadLink(space, file)),
    previewTitle,
    previewBox,
    h('h3', {}, icon('history'), ` Versions (${earlier.length + 1})`),
    h(
      'ol.versions',
      { 'data-test': 'versions' },
      versionRow(space, file, file, true, open),
      earlier.map((v) => versionRow(space, file, v, false, open)),
    ),
    conflicts.length > 0
      ? [
          h('h3', {}, `Written at the same time elsewhere (${conflicts.length})`),
          h(
            'ol.versions',
            { 'data-test': 'conflicts' },
            conflicts.map((v) => versionRow(space, file, v, false, open)),
          ),
        ]
      : null,
  );
  await renderPreview(previewBox, space, file).catch((error) =>
    replace(previewBox, h('p.form-error', {}, error.message)),
  );
  ctx.setTitle(file.name);
}
