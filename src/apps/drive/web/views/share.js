// Sharing a folder with a person (docs/gateway.md §15, files/share): a folder becomes a drive
// of its own, a new group with that person as a member, holding copies of the folder's files;
// the whole drive (the root) is shared by adding the person to the drive's group instead.
// The person finds it under "Shared with you" on their own gateway.

import { h, plural } from '../shared/dom.js';
import { shortId } from '../shared/identity.js';
import { share } from '../lib/files-api.js';
import { routeHash } from '../lib/paths.js';

export function shareForm(ctx, space, folder, onDone) {
  const member = h('input', {
    type: 'text',
    placeholder: 'Their identity (p2pid1…)',
    'data-test': 'share-member',
    spellcheck: 'false',
    autocomplete: 'off',
    required: true,
  });
  const role = h(
    'select',
    { 'data-test': 'share-role', 'aria-label': 'Role' },
    h('option', { value: 'reader' }, 'can view'),
    h('option', { value: 'writer' }, 'can edit'),
  );
  const error = h('p.form-error', { role: 'alert', 'data-test': 'share-error' });
  const what = folder ? `the folder “${folder}”` : 'this whole drive';
  const form = h(
    'form.share-form.card',
    {
      'data-test': 'share-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const text = member.value.trim();
        if (!text) return;
        const controls = [...form.querySelectorAll('input, select, button')];
        controls.forEach((c) => (c.disabled = true));
        error.textContent = '';
        try {
          const answer = await share(space, folder, text, role.value);
          await ctx.refreshSidebar();
          ctx.toast(
            folder
              ? `Shared ${folder} with ${shortId(text)}: ${plural(answer.files, 'file')} in a new drive.`
              : `Shared this drive with ${shortId(text)}.`,
          );
          onDone(answer.space !== space ? routeHash(answer.space) : undefined);
        } catch (e) {
          error.textContent = e.message;
          controls.forEach((c) => (c.disabled = false));
        }
      },
    },
    h('h3', {}, 'Share ', h('span', { 'data-test': 'share-what' }, what)),
    h(
      'p.hint',
      {},
      folder
        ? 'The folder’s files are copied into a new drive that you and this person share. Changes made here afterwards stay here.'
        : 'The person becomes a member of this drive, with new keys for everything written from now on.',
    ),
    h(
      'div.row',
      {},
      member,
      role,
      h('button.primary', { type: 'submit', 'data-test': 'share-submit' }, 'Share'),
    ),
    h('button.small.ghost', { type: 'button', onclick: () => onDone() }, 'Cancel'),
    error,
  );
  return form;
}
