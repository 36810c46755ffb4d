// The drive's single page: sign in, then a top bar, a sidebar of drives (the caller's groups)
// and invitations, and the folder of the current route (#/d/<group>/<folder…>).

import { ApiError, get, post } from './shared/api.js';
import { h, replace } from './shared/dom.js';
import * as ids from './shared/identity.js';
import * as shell from './shared/shell.js';
import { icon } from './lib/icons.js';
import { parseRoute, routeHash } from './lib/paths.js';
import { showLogin } from './views/login.js';
import { showDrive } from './views/drive.js';

const root = document.getElementById('app');
const toast = shell.toaster(4500);

const state = {
  me: null,
  drives: [],
  invitations: [],
  sidebarTimer: undefined,
  signingOut: false,
};

// A view on screen that is gone (a drive one was removed from) says so; a session that ended
// (the gateway restarted, or signed it out) leads back to signing in.
const views = shell.liveViews({
  paused: () => state.signingOut,
  onGone: () => void route(),
  onUnauthorized: () => location.reload(),
});

const main = h('main.content', { id: 'main' });
const sidebar = h('aside.sidebar', { 'data-test': 'sidebar' });
const meBox = h('div.me');

const ctx = {
  toast,
  /** Runs `work` every `ms` while the current view is shown and the page is visible. */
  live: views.live,
  navigate: shell.navigator(() => route()),
  setTitle: shell.titleSetter('drive'),
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

function signOut() {
  return shell.signOut(() => {
    state.signingOut = true;
    views.stop();
    clearInterval(state.sidebarTimer);
  });
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
  return shell.invitationCard(invitation, {
    name: invitation.name ?? 'A drive',
    attrs: { 'data-space': invitation.space ?? '' },
    join,
    decline,
  });
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
    shell.invitationsSection('Shared with you', state.invitations, invitationCard),
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
  views.stop();
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
    shell.topbar('▣', 'drive', meBox),
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

shell.startPage(root, 'drive', showLogin, (options) => startApp(options.created));
