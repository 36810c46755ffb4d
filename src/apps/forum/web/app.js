// The forum's single page: sign in, then a top bar, a sidebar of communities and invitations,
// and the view of the current route (#/c/<space>, #/c/<space>/p/<post>, #/settings, #/new).

import { ApiError, get, post } from './lib/api.js';
import { avatar, h, replace } from './lib/dom.js';
import * as ids from './lib/identity.js';
import { icon } from './lib/icons.js';
import * as shell from './lib/shell.js';
import { showCommunity } from './views/community.js';
import { showLogin } from './views/login.js';
import { showPost } from './views/post.js';
import { showNewCommunity, showSettings } from './views/settings.js';

const root = document.getElementById('app');
const toast = shell.toaster(3500);

const state = {
  me: null,
  communities: [],
  invitations: [],
  signingOut: false,
  created: null,
};

// Views are read again when the gateway's index takes new records, not on a timer.
const changes = shell.changeEvents();
// A view on screen that is gone (a deleted post, a community one was removed from) says so.
const views = shell.liveViews({
  paused: () => state.signingOut,
  onGone: () => void route(),
  changes,
});

const main = h('main.content', { id: 'main' });
const sidebar = h('aside.sidebar', { 'data-test': 'sidebar' });
const meBox = h('div.me');

const ctx = {
  toast,
  /** Runs `work` every `ms` while the current view is shown. */
  live: views.live,
  navigate: shell.navigator(() => route()),
  setTitle: shell.titleSetter('forum'),
  meAvatar: () => avatar(state.me.identity, state.me.name, 'medium'),
  refreshSidebar: () => refreshSidebar(),
  signOut: () =>
    shell.signOut(() => {
      state.signingOut = true;
      views.stop();
      changes.close();
    }),
  refreshMe: () => refreshMe(),
};

async function refreshMe() {
  state.me = await get('/forum/api/me');
  replace(
    meBox,
    h(
      'a.me-link',
      { href: '#/settings', 'data-test': 'me', title: state.me.identity },
      avatar(state.me.identity, state.me.name, 'medium'),
      h('span.me-name', {}, state.me.name || ids.shortId(state.me.identity)),
    ),
  );
}

function communityLink(community) {
  const active = location.hash.startsWith(`#/c/${community.space}`);
  return h(
    'a.community-link',
    {
      href: `#/c/${community.space}`,
      class: active ? 'active' : '',
      'data-test': 'community-link',
      'data-space': community.space,
      'data-private': community.private ? 'true' : 'false',
    },
    h('span.community-icon', {}, icon(community.private ? 'lock' : 'hash')),
    h('span.community-name', {}, community.name),
    h('span.count', {}, String(community.posts)),
  );
}

function invitationCard(invitation) {
  const join = async () => {
    try {
      const community = await post(`/forum/api/invitations/${invitation.id}/accept`);
      toast(`You joined ${community.name}.`);
      await refreshSidebar();
      ctx.navigate(`#/c/${community.space}`);
    } catch (error) {
      toast(error.message, 'error');
    }
  };
  const decline = async () => {
    await post(`/forum/api/invitations/${invitation.id}/decline`).catch(() => undefined);
    await refreshSidebar();
  };
  return shell.invitationCard(invitation, { name: invitation.name, join, decline });
}

async function refreshSidebar() {
  const [communities, invitations] = await Promise.all([
    get('/forum/api/communities'),
    get('/forum/api/invitations'),
  ]);
  state.communities = communities.communities;
  state.invitations = invitations.invitations;
  const publics = state.communities.filter((c) => !c.private);
  const privates = state.communities.filter((c) => c.private);
  replace(
    sidebar,
    shell.invitationsSection('Invitations', state.invitations, invitationCard),
    h(
      'section.side-section',
      {},
      h('h3', {}, 'Communities'),
      h('nav.community-list', { 'data-test': 'public-communities' }, publics.map(communityLink)),
      h('a.new-community', { href: '#/new' }, '+ New community'),
    ),
    h(
      'section.side-section',
      {},
      h('h3', {}, 'Private'),
      privates.length > 0
        ? h(
            'nav.community-list',
            { 'data-test': 'private-communities' },
            privates.map(communityLink),
          )
        : h(
            'p.hint',
            {},
            'Make a private copy of any community to get one, or join one you are invited to.',
          ),
    ),
    h(
      'section.side-section.about',
      {},
      h(
        'p.hint',
        {},
        'Everything here is stored as signed, sealed entries on p2pcloud nodes. Your gateway decrypts and indexes it on this computer.',
      ),
    ),
  );
}

async function route() {
  views.stop();
  if (state.signingOut) return;
  const hash = location.hash || '#/';
  const [path, query = ''] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean);
  const sort = new URLSearchParams(query).get('sort') === 'top' ? 'top' : 'new';
  for (const link of sidebar.querySelectorAll('.community-link')) {
    link.classList.toggle('active', parts[0] === 'c' && link.dataset.space === parts[1]);
  }
  try {
    if (state.created) {
      const created = state.created;
      state.created = null;
      main.before(
        h(
          'div.banner',
          { 'data-test': 'created-banner' },
          h(
            'span',
            {},
            'Your new identity lives in this browser. Download its key file to keep it safe.',
          ),
          h(
            'button.primary.small',
            {
              type: 'button',
              onclick: (e) => {
                ids.downloadKeyFile(created);
                e.target.closest('.banner').remove();
              },
            },
            icon('download'),
            'Download key file',
          ),
          h(
            'button.small',
            { type: 'button', onclick: (e) => e.target.closest('.banner').remove() },
            'Later',
          ),
        ),
      );
    }
    if (parts[0] === 'c' && parts[1] && parts[2] === 'p' && parts[3]) {
      await showPost(ctx, main, parts[1], parts[3]);
    } else if (parts[0] === 'c' && parts[1]) {
      await showCommunity(ctx, main, parts[1], sort);
    } else if (parts[0] === 'settings') {
      await showSettings(ctx, main);
    } else if (parts[0] === 'new') {
      showNewCommunity(ctx, main);
    } else {
      const first =
        state.communities.find((c) => c.slug === 'general' && !c.private) ?? state.communities[0];
      if (first) ctx.navigate(`#/c/${first.space}`);
      else replace(main, h('div.card.empty', {}, 'No communities yet.'));
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return location.reload();
    const removed = error instanceof ApiError && error.details.removed === true;
    replace(
      main,
      h(
        'div.card.empty',
        { 'data-test': 'route-error', 'data-removed': removed ? 'true' : 'false' },
        h(
          'h2',
          {},
          removed
            ? 'You were removed from this community'
            : error instanceof ApiError && error.status === 404
              ? 'Not found'
              : 'Something went wrong',
        ),
        h('p', {}, error.message),
        h('a', { href: '#/' }, 'Back to the forum'),
      ),
    );
  }
}

async function startApp() {
  replace(
    root,
    shell.topbar('◆', 'forum', meBox),
    h('div.layout', {}, sidebar, h('div.main-column', {}, main)),
  );
  await refreshMe();
  await refreshSidebar();
  changes.subscribe(() => refreshSidebar().catch(() => undefined));
  window.addEventListener('hashchange', () => void route());
  await route();
}

shell.startPage(root, 'forum', showLogin, async (options) => {
  state.created = options.created ?? null;
  await startApp();
});
