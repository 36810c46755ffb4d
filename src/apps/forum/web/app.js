// The forum's single page: sign in, then a top bar, a sidebar of communities and invitations,
// and the view of the current route (#/c/<space>, #/c/<space>/p/<post>, #/settings, #/new).

import { ApiError, get, idle, post } from './lib/api.js';
import { avatar, h, replace } from './lib/dom.js';
import * as ids from './lib/identity.js';
import { icon } from './lib/icons.js';
import { showCommunity } from './views/community.js';
import { showLogin } from './views/login.js';
import { showPost } from './views/post.js';
import { showNewCommunity, showSettings } from './views/settings.js';

const root = document.getElementById('app');
const toasts = h('div.toasts', { 'aria-live': 'polite' });
document.body.append(toasts);

const state = {
  me: null,
  communities: [],
  invitations: [],
  timers: [],
  sidebarTimer: undefined,
  signingOut: false,
  created: null,
};

function toast(message, kind = 'info') {
  const item = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(item);
  setTimeout(() => item.classList.add('leaving'), 3500);
  setTimeout(() => item.remove(), 4000);
}

function stopLive() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
}

/** Runs `work` every `ms` while the current view is shown. */
function live(work, ms) {
  state.timers.push(
    setInterval(() => {
      if (document.visibilityState !== 'visible' || state.signingOut) return;
      // What is on screen is gone (a deleted post, a community one was removed from): say so.
      work().catch((error) => {
        if (error instanceof ApiError && error.status === 404) void route();
      });
    }, ms),
  );
}

const main = h('main.content', { id: 'main' });
const sidebar = h('aside.sidebar', { 'data-test': 'sidebar' });
const meBox = h('div.me');

const ctx = {
  toast,
  live,
  navigate: (hash) => {
    if (location.hash === hash) void route();
    else location.hash = hash;
  },
  setTitle: (title) => {
    document.title = title ? `${title} · p2pcloud forum` : 'p2pcloud forum';
  },
  meAvatar: () => avatar(state.me.identity, state.me.name, 'medium'),
  refreshSidebar: () => refreshSidebar(),
  signOut: async () => {
    // Stop the refreshes first, so that none of them is answered 401 after the session ends.
    state.signingOut = true;
    stopLive();
    clearInterval(state.sidebarTimer);
    await idle();
    await post('/api/auth/logout');
    // A full load of the page without its #route (setting the hash would route first).
    location.replace(location.pathname);
  },
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
  return h(
    'div.invitation',
    { 'data-test': 'invitation' },
    h('div', {}, h('strong', {}, invitation.name)),
    h('div.hint', {}, 'from ', h('code', { title: invitation.from }, ids.shortId(invitation.from))),
    h(
      'div.row',
      {},
      h(
        'button.primary.small',
        { type: 'button', onclick: join, 'data-test': 'accept-invitation' },
        'Join',
      ),
      h('button.small', { type: 'button', onclick: decline }, 'Decline'),
    ),
  );
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
    state.invitations.length > 0
      ? h(
          'section.side-section.invitations',
          {},
          h('h3', {}, 'Invitations'),
          state.invitations.map(invitationCard),
        )
      : null,
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
  stopLive();
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
    h(
      'header.topbar',
      {},
      h(
        'a.brand',
        { href: '#/' },
        h('span.logo', {}, '◆'),
        h('span', {}, ' p2pcloud '),
        h('span.brand-sub', {}, 'forum'),
      ),
      h('div.spacer'),
      meBox,
    ),
    h('div.layout', {}, sidebar, h('div.main-column', {}, main)),
  );
  await refreshMe();
  await refreshSidebar();
  state.sidebarTimer = setInterval(() => {
    if (document.visibilityState === 'visible') refreshSidebar().catch(() => undefined);
  }, 5000);
  window.addEventListener('hashchange', () => void route());
  await route();
}

async function boot() {
  const session = await get('/api/auth/session');
  if (!session.signed_in) {
    await showLogin(root, async (_me, options) => {
      state.created = options.created ?? null;
      await startApp();
    });
    return;
  }
  await startApp();
}

boot().catch((error) => {
  replace(
    root,
    h('div.card.empty', {}, h('h2', {}, 'The forum could not start'), h('p', {}, error.message)),
  );
});
