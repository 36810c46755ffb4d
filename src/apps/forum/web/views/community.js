// A community: its header (public or private, fork, and the members of a private one), the
// post composer, and the feed sorted by newest or top score, refreshed while it is on screen.

import { del, get, post } from '../lib/api.js';
import { h, plural, replace } from '../lib/dom.js';
import { shortId } from '../lib/identity.js';
import { icon } from '../lib/icons.js';
import { busy, postCard } from '../lib/widgets.js';
import { invitePeople, membersPanel } from './members.js';

function header(ctx, community) {
  const forkError = h('p.form-error', { role: 'alert' });
  const fork = h(
    'button',
    {
      type: 'button',
      'data-test': 'fork',
      title: 'New keys: only the people you invite can read the copy',
      onclick: async () => {
        fork.disabled = true;
        fork.textContent = 'Copying…';
        forkError.textContent = '';
        try {
          const copy = await post(`/forum/api/c/${community.space}/fork`, {});
          await ctx.refreshSidebar();
          ctx.toast(
            `Private copy created with ${plural(copy.copied, 'record')}. Only people you invite can read it.`,
          );
          ctx.navigate(`#/c/${copy.space}`);
        } catch (error) {
          forkError.textContent = error.message;
          fork.disabled = false;
          replace(fork, icon('lock'), 'Make a private copy');
        }
      },
    },
    icon('lock'),
    'Make a private copy',
  );

  let invite = null;
  if (community.role) {
    invite = membersPanel(ctx, community);
  } else if (community.private) {
    // A private space of the older kind: its keys, once shared, stay shared.
    const invited = h(
      'ul.invited',
      { 'data-test': 'invited' },
      community.invited.map((who) => h('li', {}, h('code', { title: who }, shortId(who)))),
    );
    const form = invitePeople(ctx, community, (to) => {
      invited.append(h('li', {}, h('code', { title: to }, shortId(to))));
    });
    invite = h(
      'div.invite',
      {},
      h('h3', {}, 'Members'),
      h(
        'p.hint',
        {},
        'Invite people by their identity text. Their gateway finds the invitation sealed to them; nobody else can read this community, node operators included.',
      ),
      form,
      invited,
    );
  }

  return h(
    'section.community-head.card',
    { 'data-test': 'community-head' },
    h(
      'div.community-title',
      {},
      h('h1', { 'data-test': 'community-name' }, community.name),
      community.private
        ? h('span.badge.private', { 'data-test': 'badge' }, icon('lock'), 'Private')
        : h('span.badge.public', { 'data-test': 'badge' }, 'Public'),
    ),
    community.description ? h('p.description', {}, community.description) : null,
    h(
      'div.community-meta',
      {},
      h('span', { 'data-test': 'post-count' }, plural(community.posts, 'post')),
      community.forked_from ? h('span', {}, ' · private copy of another community') : null,
      community.invited_by
        ? h('span', {}, ' · invited by ', h('code', {}, shortId(community.invited_by)))
        : null,
    ),
    h('div.actions', {}, fork),
    forkError,
    invite,
  );
}

function composer(ctx, community, onPosted) {
  if (community.role === 'reader') {
    return h(
      'section.card.composer-card',
      { 'data-test': 'read-only' },
      h('p.hint', {}, 'You are a reader here: the owner or an admin can make you a writer.'),
    );
  }
  const title = h('input', {
    name: 'title',
    placeholder: 'Title',
    maxlength: '300',
    required: true,
    'data-test': 'post-title-input',
  });
  const body = h('textarea', {
    name: 'body',
    placeholder: 'Text (optional)',
    rows: '3',
    'data-test': 'post-body-input',
  });
  const error = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.composer',
    {
      'data-test': 'post-form',
      onsubmit: (event) => {
        event.preventDefault();
        void busy(form, error, async () => {
          const created = await post(`/forum/api/c/${community.space}/posts`, {
            title: title.value,
            body: body.value,
          });
          title.value = '';
          body.value = '';
          ctx.toast('Posted.');
          onPosted(created);
          void ctx.refreshSidebar().catch(() => undefined);
        });
      },
    },
    h('div.composer-row', {}, ctx.meAvatar(), title),
    body,
    h(
      'div.composer-foot',
      {},
      h(
        'span.hint',
        {},
        community.private
          ? 'Sealed to this private community’s key.'
          : 'Public: anyone can read this.',
      ),
      h('button.primary', { type: 'submit', 'data-test': 'post-submit' }, 'Post'),
    ),
    error,
  );
  return h('section.card.composer-card', {}, form);
}

export async function showCommunity(ctx, main, space, sort) {
  const community = await get(`/forum/api/c/${space}`);
  const list = h('div.post-list', { 'data-test': 'post-list' });
  let shown = '';

  const load = async () => {
    const page = await get(`/forum/api/c/${space}/posts?sort=${sort}&limit=50`);
    // The header counts what the feed shows, new posts included (its own and others').
    const count = main.querySelector('[data-test=post-count]');
    if (count) count.textContent = plural(page.total, 'post');
    const key = JSON.stringify(page.posts);
    if (key === shown) return;
    shown = key;
    replace(
      list,
      page.posts.length === 0
        ? h(
            'div.empty.card',
            {},
            h('p', {}, 'No posts yet.'),
            h('p.hint', {}, 'Be the first: write something above.'),
          )
        : page.posts.map((item) =>
            postCard(ctx, space, item, {
              onDelete: async () => {
                await del(`/forum/api/c/${space}/posts/${item.id}`);
                ctx.toast('Post deleted.');
                await load();
              },
            }),
          ),
    );
  };

  const tab = (name, label) =>
    h(
      'a',
      {
        href: `#/c/${space}${name === 'new' ? '' : '?sort=top'}`,
        class: sort === name ? 'active' : '',
        'data-test': `sort-${name}`,
      },
      label,
    );

  replace(
    main,
    header(ctx, community),
    composer(ctx, community, () => load()),
    h('nav.tabs', {}, tab('new', [icon('clock'), 'New']), tab('top', [icon('flame'), 'Top'])),
    list,
  );
  ctx.setTitle(community.name);
  await load();
  ctx.live(load, 3000);
}
