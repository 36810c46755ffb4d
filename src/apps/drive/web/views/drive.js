// A folder of a drive: breadcrumbs, the folders and files in it, uploads by drag-and-drop or
// by picking files, new folders, renaming (moving), deleting, sharing, and a file's panel.
// A reader sees the same without the controls that write: the gateway would refuse them.

import { h, plural, replace, timeAgo } from '../shared/dom.js';
import * as files from '../lib/files-api.js';
import { icon } from '../lib/icons.js';
import { formatBytes, previewKind } from '../lib/kinds.js';
import {
  crumbs,
  isUnder,
  joinPath,
  nameOf,
  nameProblem,
  parentOf,
  routeHash,
} from '../lib/paths.js';
import { dropTarget } from './drop-target.js';
import { showFile } from './file.js';
import { editPath } from './rename.js';
import { shareForm } from './share.js';
import { enqueue, onUploaded, uploadsPanel } from './uploads.js';
import { confirmButton } from './widgets.js';

/** Files a folder's listing holds at most (the gateway's default page, docs/gateway.md §15). */
const LIST_LIMIT = 1000;

/**
 * Folders made with "New folder" that hold no file yet, per drive. A folder exists in the
 * tree once a file is under it, so until then it lives in this page only.
 */
const placeholders = new Map();

let unlisten = () => undefined;

function placeholdersOf(space) {
  if (!placeholders.has(space)) placeholders.set(space, new Set());
  return placeholders.get(space);
}

function fileIcon(file) {
  const kind = previewKind(file);
  return icon(kind === 'image' ? 'image' : kind === 'text' ? 'text' : 'file');
}

/** Shows folder `folder` of drive `space` in `main`. */
export async function showDrive(ctx, main, space, folder) {
  unlisten();
  // A folder the tree does not know (one made in this page) lists as empty.
  const listing = await files.list(space, folder);
  const drive = ctx.drive(space) ?? { id: space, name: space, role: 'member', writable: false };
  const writable = drive.writable === true;
  let openPath = null;
  let editing = false;
  let shown = JSON.stringify(listing);

  const error = h('p.form-error', { role: 'alert', 'data-test': 'drive-error' });
  const rows = h('tbody', { 'data-test': 'listing' });
  const panel = h('aside.file-panel', { 'data-test': 'file-panel', hidden: true });
  const shareBox = h('div.share-box');
  const view = h('section.drive', {
    'data-test': 'drive',
    'data-space': space,
    'data-folder': folder,
  });

  const go = (path) => ctx.navigate(routeHash(space, path));
  const fail = (e) => {
    error.textContent = e.message;
  };

  const reload = async () => {
    const next = await files.list(space, folder);
    const text = JSON.stringify(next);
    if (text === shown || editing) return;
    shown = text;
    renderRows(next);
  };

  const closeFile = () => {
    openPath = null;
    panel.hidden = true;
    replace(panel);
    view.classList.remove('with-panel');
    for (const r of rows.querySelectorAll('tr.selected')) r.classList.remove('selected');
    ctx.setTitle(drive.name);
  };

  const openFile = async (path) => {
    openPath = path;
    for (const r of rows.querySelectorAll('tr')) {
      r.classList.toggle('selected', r.dataset.path === path);
    }
    panel.hidden = false;
    view.classList.add('with-panel');
    replace(panel, h('p.hint', {}, 'Loading…'));
    try {
      await showFile(ctx, panel, space, path, closeFile);
    } catch (e) {
      replace(panel, h('p.form-error', {}, e.message));
    }
  };

  /** Turns a row's name into a field holding its whole path: a new name moves it. */
  const rename = (nameCell, path) => {
    if (editing) return;
    editing = true;
    editPath(nameCell, path, {
      submit: async (to) => {
        const moved = await files.move(space, path, to);
        editing = false;
        ctx.toast(`Moved ${nameOf(path)} to ${to} (${plural(moved.moved, 'file')}).`);
        if (openPath === path) closeFile();
        await reload();
      },
      onError: fail,
      onCancel: () => {
        editing = false;
      },
    });
  };

  const openShare = (path) => {
    replace(
      shareBox,
      shareForm(ctx, space, path, (target) => {
        replace(shareBox);
        if (target) ctx.navigate(target);
      }),
    );
    shareBox.querySelector('input').focus();
  };

  const folderRow = (item, placeholder) => {
    const nameCell = h(
      'div.name-cell',
      {},
      icon('folder'),
      h(
        'a.folder-link',
        { href: routeHash(space, item.path), 'data-test': 'folder-link' },
        item.name,
      ),
    );
    const row = h(
      'tr.folder',
      {
        'data-test': 'folder',
        'data-path': item.path,
        'data-placeholder': placeholder ? 'true' : 'false',
      },
      h('td.name', {}, nameCell),
      h('td.size', {}, placeholder ? 'empty' : `${item.files} file${item.files === 1 ? '' : 's'}`),
      h('td.modified', {}, ''),
      h(
        'td.actions',
        {},
        writable && !placeholder
          ? [
              h(
                'button.small.ghost',
                {
                  type: 'button',
                  'data-test': 'rename',
                  onclick: () => rename(nameCell, item.path),
                },
                'Rename',
              ),
              h(
                'button.small.ghost',
                {
                  type: 'button',
                  'data-test': 'share-folder',
                  onclick: () => openShare(item.path),
                },
                icon('share'),
                'Share',
              ),
              confirmButton('Delete', 'Delete all?', 'delete', async () => {
                try {
                  const removed = await files.removeFolder(space, item.path, (n) => {
                    row.querySelector('td.size').textContent = `deleting… ${n}`;
                  });
                  ctx.toast(`Deleted ${item.name} (${plural(removed, 'file')}).`);
                } catch (e) {
                  fail(e);
                }
                // The deletion may have used up the gateway's rate limit: the listing waits it
                // out too, instead of failing outside any handler.
                await files.patiently(reload).catch(fail);
              }),
            ]
          : null,
        placeholder
          ? h(
              'button.small.ghost',
              {
                type: 'button',
                onclick: () => {
                  placeholdersOf(space).delete(item.path);
                  renderRows(JSON.parse(shown));
                },
              },
              'Remove',
            )
          : null,
      ),
    );
    return row;
  };

  const fileRow = (file) => {
    const nameCell = h(
      'div.name-cell',
      {},
      fileIcon(file),
      h(
        'button.file-link',
        {
          type: 'button',
          'data-test': 'file-link',
          title: file.path,
          onclick: () => openFile(file.path),
        },
        file.name,
      ),
      file.conflicts > 0
        ? h(
            'span.tag.warn',
            { title: 'Versions written at the same time elsewhere' },
            plural(file.conflicts, 'conflict'),
          )
        : null,
    );
    const row = h(
      'tr.file',
      {
        'data-test': 'file',
        'data-path': file.path,
        class: file.path === openPath ? 'selected' : '',
      },
      h('td.name', {}, nameCell),
      h('td.size', { 'data-test': 'file-size' }, formatBytes(file.size)),
      h('td.modified', { title: new Date(file.modified).toLocaleString() }, timeAgo(file.modified)),
      h(
        'td.actions',
        {},
        h(
          'a.button.small.ghost',
          {
            href: files.contentUrl(space, file.path, { download: true }),
            download: file.name,
            'data-test': 'download',
            title: `Download ${file.name}`,
          },
          icon('download'),
        ),
        writable
          ? [
              h(
                'button.small.ghost',
                {
                  type: 'button',
                  'data-test': 'rename',
                  onclick: () => rename(nameCell, file.path),
                },
                'Rename',
              ),
              confirmButton('Delete', 'Confirm delete', 'delete', async () => {
                try {
                  await files.remove(space, file.path);
                  ctx.toast(`Deleted ${file.name}.`);
                  if (openPath === file.path) closeFile();
                  await reload();
                } catch (e) {
                  fail(e);
                }
              }),
            ]
          : null,
      ),
    );
    return row;
  };

  const renderRows = (current) => {
    const known = new Set(current.folders.map((f) => f.path));
    // A folder the tree holds needs no placeholder: once deleted, it is gone from here too.
    for (const path of known) placeholdersOf(space).delete(path);
    const extra = [...placeholdersOf(space)]
      .filter((path) => parentOf(path) === folder && !known.has(path))
      .map((path) => ({ path, name: nameOf(path), files: 0 }));
    const empty = current.folders.length + current.files.length + extra.length === 0;
    const cut = current.files.length >= LIST_LIMIT;
    replace(
      rows,
      current.folders.map((f) => folderRow(f, false)),
      extra.map((f) => folderRow(f, true)),
      current.files.map(fileRow),
      cut
        ? h(
            'tr.empty',
            {},
            h(
              'td',
              { colspan: 4, 'data-test': 'listing-cut' },
              `Only the first ${LIST_LIMIT} files of this folder are shown: keep fewer in one folder to see them all here.`,
            ),
          )
        : null,
      empty
        ? h(
            'tr.empty',
            {},
            h(
              'td',
              { colspan: 4, 'data-test': 'empty-folder' },
              writable
                ? 'Nothing here yet. Drop files anywhere on this page, or choose them with “Upload files”.'
                : 'Nothing here yet.',
            ),
          )
        : null,
    );
  };

  const picker = h('input.visually-hidden', {
    type: 'file',
    multiple: true,
    'data-test': 'upload-input',
    onchange: () => {
      const picked = [...picker.files].map((blob) => ({ blob, relative: blob.name }));
      picker.value = '';
      enqueue(space, folder, picked);
    },
  });

  const newFolder = () => {
    const input = h('input', {
      type: 'text',
      placeholder: 'Folder name',
      'data-test': 'new-folder-name',
    });
    const form = h(
      'form.inline-form',
      {
        'data-test': 'new-folder-form',
        onsubmit: (event) => {
          event.preventDefault();
          const name = input.value.normalize('NFC').trim();
          const problem = nameProblem(name);
          if (problem) return fail(new Error(problem));
          replace(shareBox);
          placeholdersOf(space).add(joinPath(folder, name));
          go(joinPath(folder, name));
        },
      },
      input,
      h('button.primary.small', { type: 'submit', 'data-test': 'new-folder-submit' }, 'Create'),
      h('button.small.ghost', { type: 'button', onclick: () => replace(shareBox) }, 'Cancel'),
      h('p.hint', {}, 'The folder is kept once a file is uploaded into it.'),
    );
    replace(shareBox, form);
    input.focus();
  };

  const breadcrumbs = h(
    'nav.breadcrumbs',
    { 'data-test': 'breadcrumbs', 'aria-label': 'Folders' },
    crumbs(folder).map((crumb, i, all) =>
      i === all.length - 1
        ? h('span.crumb.current', { 'data-test': 'crumb' }, crumb.name || drive.name)
        : [
            h(
              'a.crumb',
              { href: routeHash(space, crumb.path), 'data-test': 'crumb' },
              crumb.name || drive.name,
            ),
            h('span.sep', {}, '/'),
          ],
    ),
  );

  const toolbar = h(
    'div.toolbar',
    {},
    writable
      ? [
          h(
            'label.button.primary',
            { 'data-test': 'upload-button' },
            icon('upload'),
            'Upload files',
            picker,
          ),
          h(
            'button',
            { type: 'button', 'data-test': 'new-folder', onclick: newFolder },
            icon('plus'),
            'New folder',
          ),
        ]
      : h('span.tag', { 'data-test': 'read-only' }, icon('lock'), 'You can view this drive'),
    writable
      ? h(
          'button',
          { type: 'button', 'data-test': 'share-current', onclick: () => openShare(folder) },
          icon('share'),
          folder ? 'Share this folder' : 'Share this drive',
        )
      : null,
  );

  replace(
    view,
    h(
      'div.drive-main',
      {},
      h(
        'header.drive-head',
        {},
        h('h1', { 'data-test': 'drive-name' }, drive.name),
        h('span.tag', { 'data-test': 'drive-role' }, drive.role),
        drive.members
          ? h(
              'span.hint',
              {},
              `${drive.members.length} member${drive.members.length === 1 ? '' : 's'}`,
            )
          : null,
      ),
      breadcrumbs,
      toolbar,
      shareBox,
      uploadsPanel(),
      error,
      h(
        'table.listing',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Name'),
            h('th', {}, 'Size'),
            h('th', {}, 'Modified'),
            h('th', {}, ''),
          ),
        ),
        rows,
      ),
      writable
        ? h(
            'p.drop-hint',
            {},
            icon('upload'),
            'Drop files or folders anywhere here to upload them into this folder.',
          )
        : null,
    ),
    panel,
  );
  renderRows(listing);

  if (writable) {
    dropTarget(view, (dropped) => enqueue(space, folder, dropped), fail);
  }

  unlisten = onUploaded((uploadedSpace, path) => {
    if (uploadedSpace !== space || !isUnder(path, folder)) return;
    // A refresh that fails (the rate limit) is made good by the next periodic one.
    void reload().catch(() => undefined);
    if (openPath === path) void openFile(path);
  });
  ctx.live(reload, 3000);
  ctx.setTitle(drive.name);
  replace(main, view);
}
