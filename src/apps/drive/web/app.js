// The drive's single page: sign in, then a top bar, a sidebar of drives (the caller's groups)
// and invitations, and the folder of the current route (#/d/<group>/<folder…>).

import { ApiError, get, idle, post } from './shared/api.js';
import { h, replace } from './shared/dom.js';
import * as ids from './shared/identity.js';
import { icon } from './lib/icons.js';
import { parseRoute, routeHash } from './lib/paths.js';
import { showLogin } from './views/login.js';
import { showDrive } from './views/drive.js';

const root = document.getElementById('app');
const toasts = h('div.toasts', { 'aria-live': 'polite' });
document.body.append(toasts);

const state = {
  me: null,
  drives: [],
  invitations: [],
  timers: [],
  sidebarTimer: undefined,
  signingOut: false,
};

function toast(message, kind = 'info') {
  const item = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
  toasts.append(item);
  setTimeout(() => item.classList.add('leaving'), 4500);
  setTimeout(() => item.remove(), 5000);
}

function stopLive() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
}

const main = h('main.content', { id: 'main' });
const sidebar = h('aside.sidebar', { 'data-test': 'sidebar' });
const meBox = h('div.me');

const ctx = {
  toast,
  /** Runs `work` every `ms` while the current view is shown and the page is visible. */
  live: (work, ms) => {
    state.timers.push(
      setInterval(() => {
        if (document.visibilityState !== 'visible' || state.signingOut) return;
        work().catch((error) => {
          // What is on screen is gone (a drive one was removed from): say so. A session that
          // ended (the gateway restarted, or signed it out) leads back to signing in.
          if (error instanceof ApiError && error.status === 404) void route();
          if (error instanceof ApiError && error.status === 401) location.reload();
        });
      }, ms),
    );
  },
  navigate: (hash) => {
    if (location.hash === hash) void route();
    else location.hash = hash;
  },
  setTitle: (title) => {
    document.title = title ? `${title} · p2pcloud drive` : 'p2pcloud drive';
  },
  drive: (space) => state.drives.find((d) => d.id === space),
  refreshSidebar: () => refreshSidebar(),
};

function meMenu() {
  const details = h(
    'details.me-menu',
    {},
    h(
      'summary',
      { 'data-test': 'me', title: state.me.identity },
      h('span.me-name', {}, ids.shortId(state.me.identity)),
    ),
    h(
      'div.me-panel',
      {},
      h('p.hint', {}, 'Your identity: give it to people who share folders with you.'),
      h('code.identity-text', { 'data-test': 'my-identity' }, state.me.identity),
      h(
        'div.row',
        {},
        h(
          'button.small',
          {
            type: 'button',
            onclick: async () => {
              await navigator.clipboard?.writeText(state.me.identity).catch(() => undefined);
              toast('Identity copied.');
            },
          },
          icon('copy'),
          'Copy',
        ),
        h(
          'button.small',
          {
            type: 'button',
            'data-test': 'download-key',
            onclick: async () => {
              const kept = await ids.storedIdentity(state.me.identity).catch(() => undefined);
              if (kept) ids.downloadKeyFile(kept);
              else toast('This identity’s key file is not kept in this browser.', 'error');
            },
          },
          icon('download'),
          'Key file',
        ),
        h(
          'button.small',
          { type: 'button', 'data-test': 'sign-out', onclick: () => signOut() },
          'Sign out',
        ),
      ),
    ),
  );
  return details;
}

async function signOut() {
  // Stop the refreshes first, so that none of them is answered 401 after the session ends.
  state.signingOut = true;
  stopLive();
  clearInterval(state.sidebarTimer);
  await idle();
  await post('/api/auth/logout');
  location.replace(location.pathname);
}

function driveLink(drive) {
  const current = parseRoute(location.hash).space;
  return h(
    'a.drive-link',
    {
      href: routeHash(drive.id),
      class: current === drive.id ? 'active' : '',
      'data-test': 'drive-link',
      'data-space': drive.id,
      title: `${drive.name} (${drive.role})`,
    },
    icon(drive.members.length > 1 ? 'share' : 'folder'),
    h('span.drive-name', {}, drive.name),
    drive.role === 'reader' ? h('span.tag', {}, 'read only') : null,
  );
}

function invitationCard(invitation) {
  const join = async (event) => {
    event.target.disabled = true;
    try {
      const space = await post(`/api/invitations/${encodeURIComponent(invitation.id)}/accept`);
      toast(`You joined ${space.name ?? 'the drive'}.`);
      await refreshSidebar();
      ctx.navigate(routeHash(space.id));
    } catch (error) {
      event.target.disabled = false;
      toast(error.message, 'error');
    }
  };
  const decline = async () => {
    await post(`/api/invitations/${encodeURIComponent(invitation.id)}/decline`).catch(
      () => undefined,
    );
    await refreshSidebar();
  };
  return h(
    'div.invitation',
    { 'data-test': 'invitation', 'data-space': invitation.space ?? '' },
    h('div', {}, h('strong', {}, invitation.name ?? 'A drive')),
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

function newDriveForm() {
  const input = h('input', {
    type: 'text',
    placeholder: 'Name of the new drive',
    maxlength: 100,
    'data-test': 'new-drive-name',
    required: true,
  });
  const error = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.new-drive',
    {
      'data-test': 'new-drive',
      onsubmit: async (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        const button = form.querySelector('button');
        button.disabled = true;
        error.textContent = '';
        try {
          const group = await post('/api/groups', { name });
          input.value = '';
          await refreshSidebar();
          toast(`Drive ${group.name} created.`);
          ctx.navigate(routeHash(group.id));
        } catch (e) {
          error.textContent = e.message;
        } finally {
          button.disabled = false;
        }
      },
    },
    input,
    h(
      'button.primary.small',
      { type: 'submit', 'data-test': 'new-drive-submit' },
      icon('plus'),
      'Create a drive',
    ),
    error,
  );
  return form;
}

const newDrive = newDriveForm();

async function refreshSidebar() {
  const [groups, invitations] = await Promise.all([get('/api/groups'), get('/api/invitations')]);
  state.drives = groups.groups;
  state.invitations = invitations.invitations;
  const focused = newDrive.contains(document.activeElement);
  replace(
    sidebar,
    state.invitations.length > 0
      ? h(
          'section.side-section.invitations',
          {},
          h('h3', {}, 'Shared with you'),
          state.invitations.map(invitationCard),
        )
      : null,
    h(
      'section.side-section',
      {},
      h('h3', {}, 'Drives'),
      state.drives.length > 0
        ? h('nav.drive-list', { 'data-test': 'drives' }, state.drives.map(driveLink))
        : h('p.hint', { 'data-test': 'no-drives' }, 'No drives yet.'),
      newDrive,
    ),
    h(
      'section.side-section.about',
      {},
      h(
        'p.hint',
        {},
        'Files are cut into chunks, sealed on this computer and stored on p2pcloud nodes, which cannot read them. Each drive is a group: its members hold its keys.',
      ),
    ),
  );
  if (focused) newDrive.querySelector('input').focus();
}

async function route() {
  stopLive();
  if (state.signingOut) return;
  const { space, folder } = parseRoute(location.hash);
  for (const link of sidebar.querySelectorAll('.drive-link')) {
    link.classList.toggle('active', link.dataset.space === space);
  }
  try {
    if (space) {
      await showDrive(ctx, main, space, folder);
    } else if (state.drives.length > 0) {
      ctx.navigate(routeHash(state.drives[0].id));
    } else {
      ctx.setTitle('');
      replace(
        main,
        h(
          'div.card.empty',
          { 'data-test': 'welcome' },
          h('h2', {}, 'No drive yet'),
          h(
            'p',
            {},
            'Create a drive (in the sidebar) to keep files in it, or wait for someone to share a folder with you: it appears under "Shared with you".',
          ),
        ),
      );
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return location.reload();
    replace(
      main,
      h(
        'div.card.empty',
        { 'data-test': 'route-error' },
        h(
          'h2',
          {},
          error instanceof ApiError && error.status === 404 ? 'Not found' : 'Something went wrong',
        ),
        h('p', {}, error.message),
        h('a', { href: '#/' }, 'Back to your drives'),
      ),
    );
  }
}

async function startApp(created) {
  state.me = await get('/api/me');
  replace(meBox, meMenu());
  replace(
    root,
    h(
      'header.topbar',
      {},
      h(
        'a.brand',
        { href: '#/' },
        h('span.logo', {}, '▣'),
        h('span', {}, ' p2pcloud '),
        h('span.brand-sub', {}, 'drive'),
      ),
      h('div.spacer'),
      meBox,
    ),
    created
      ? h(
          'div.banner',
          { 'data-test': 'created-banner' },
          h(
            'span',
            {},
            'Your new identity lives in this browser. Download its key file to keep it.',
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
            'Download key file',
          ),
        )
      : null,
    h('div.layout', {}, sidebar, h('div.main-column', {}, main)),
  );
  await refreshSidebar();
  state.sidebarTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && !state.signingOut) {
      refreshSidebar().catch((error) => {
        if (error instanceof ApiError && error.status === 401) location.reload();
      });
    }
  }, 4000);
  window.addEventListener('hashchange', () => void route());
  await route();
}

async function boot() {
  const session = await get('/api/auth/session');
  if (!session.signed_in) {
    await showLogin(root, (_me, options) => startApp(options.created));
    return;
  }
  await startApp();
}

boot().catch((error) => {
  replace(
    root,
    h('div.card.empty', {}, h('h2', {}, 'The drive could not start'), h('p', {}, error.message)),
  );
});
