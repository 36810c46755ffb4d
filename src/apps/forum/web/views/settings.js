// Your name, your identity text, your key file, signing out; and creating a public community.

import { get, post, put } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import * as ids from '../lib/identity.js';
import { busy } from '../lib/widgets.js';
import { icon } from '../lib/icons.js';

export async function showSettings(ctx, main) {
  const me = await get('/forum/api/me');
  const stored = await ids.storedIdentity(me.identity).catch(() => undefined);
  const name = h('input', {
    name: 'name',
    value: me.name ?? '',
    maxlength: '40',
    placeholder: 'How others see you',
    'data-test': 'name-input',
  });
  const error = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.stack',
    {
      onsubmit: (event) => {
        event.preventDefault();
        void busy(form, error, async () => {
          await put('/forum/api/me', { name: name.value });
          await ctx.refreshMe();
          ctx.toast('Name saved.');
        });
      },
    },
    h('label', {}, 'Display name', name),
    h(
      'p.hint',
      {},
      'Shown next to your posts in the public forum, always with a tag of your identity: names are not unique, keys are.',
    ),
    h('div.row', {}, h('button.primary', { type: 'submit', 'data-test': 'name-submit' }, 'Save')),
    error,
  );
  const idText = h('textarea.identity-text', {
    readonly: true,
    rows: '2',
    'data-test': 'identity-text',
  });
  idText.value = me.identity;
  replace(
    main,
    h('section.card.page', {}, h('h1', {}, 'Your profile'), form),
    h(
      'section.card.page',
      {},
      h('h2', {}, 'Your identity'),
      h('p.hint', {}, 'Give this text to people who want to invite you to a private community.'),
      idText,
      h(
        'div.row',
        {},
        h(
          'button',
          {
            type: 'button',
            onclick: async () => {
              await navigator.clipboard?.writeText(me.identity).catch(() => undefined);
              ctx.toast('Copied.');
            },
          },
          'Copy',
        ),
        stored
          ? h(
              'button',
              {
                type: 'button',
                'data-test': 'download-key',
                onclick: () => ids.downloadKeyFile(stored),
              },
              icon('download'),
              'Download key file',
            )
          : null,
      ),
      stored
        ? h(
            'p.hint',
            {},
            'This identity was made in this browser. Keep a copy of its key file: clearing the browser’s data would lose it.',
          )
        : me.gateway_identity
          ? h('p.hint', {}, 'This is the gateway’s own identity (its --key file).')
          : null,
    ),
    h(
      'section.card.page',
      {},
      h('h2', {}, 'Sign out'),
      h(
        'button.danger',
        {
          type: 'button',
          'data-test': 'sign-out',
          onclick: () => ctx.signOut(),
        },
        'Sign out',
      ),
    ),
  );
  ctx.setTitle('Settings');
}

const SLUG_RULE = '2 to 30 characters: lowercase letters a–z, digits and -, not starting with -.';

/** What is wrong with a short name, in words ('' if nothing). */
function slugProblem(value) {
  if (value === '') return 'Give the community a short name.';
  if (/^[a-z0-9][a-z0-9-]{1,29}$/.test(value)) return '';
  return `Short names are ${SLUG_RULE}`;
}

export function showNewCommunity(ctx, main) {
  const slug = h('input', {
    name: 'slug',
    placeholder: 'e.g. gardening',
    pattern: '[a-z0-9][a-z0-9\\-]{1,29}',
    required: true,
    'data-test': 'community-slug',
    // The browser's own words ("match the requested format") do not say what is allowed.
    oninput: () => slug.setCustomValidity(slugProblem(slug.value)),
    oninvalid: () => slug.setCustomValidity(slugProblem(slug.value)),
  });
  const slugHint = h('span.hint', {}, SLUG_RULE);
  const name = h('input', {
    name: 'name',
    placeholder: 'Gardening',
    maxlength: '60',
    required: true,
    'data-test': 'community-title',
  });
  const description = h('textarea', {
    name: 'description',
    rows: '2',
    maxlength: '300',
    placeholder: 'What is it about?',
  });
  const error = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.stack',
    {
      onsubmit: (event) => {
        event.preventDefault();
        void busy(form, error, async () => {
          let community;
          try {
            community = await post('/forum/api/communities', {
              slug: slug.value,
              name: name.value,
              description: description.value,
            });
          } catch (failure) {
            if (failure.code !== 'community_exists') throw failure;
            await ctx.refreshSidebar();
            replace(
              error,
              `A community named “${slug.value}” exists already: choose another short name, or `,
              h('a', { href: `#/c/${failure.details.space}`, 'data-test': 'existing' }, 'open it'),
              '.',
            );
            return;
          }
          await ctx.refreshSidebar();
          ctx.navigate(`#/c/${community.space}`);
        });
      },
    },
    h('label', {}, 'Short name (in its keys, cannot change)', slug, slugHint),
    h('label', {}, 'Title', name),
    h('label', {}, 'Description', description),
    h('div.row', {}, h('button.primary', { type: 'submit' }, 'Create public community')),
    error,
  );
  replace(
    main,
    h(
      'section.card.page',
      {},
      h('h1', {}, 'New public community'),
      h(
        'p.hint',
        {},
        'Public communities are listed for every forum user and their keys derive from the forum’s published seed. For a private one, make a private copy of any community and invite people.',
      ),
      form,
    ),
  );
  ctx.setTitle('New community');
}
