// The frame every p2pcloud app page builds its views in: toasts, views that refresh themselves,
// the top bar, the hash navigation, signing out and starting the page.

import { ApiError, get, idle, post } from './api.js';
import { h, replace } from './dom.js';
import { shortId } from './identity.js';

/** A toast function: each message shows for `visibleMs`, then fades out. */
export function toaster(visibleMs) {
  const toasts = h('div.toasts', { 'aria-live': 'polite' });
  document.body.append(toasts);
  return (message, kind = 'info') => {
    const item = h(`div.toast.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, message);
    toasts.append(item);
    setTimeout(() => item.classList.add('leaving'), visibleMs);
    setTimeout(() => item.remove(), visibleMs + 500);
  };
}

/**
 * The gateway's change events (GET /api/events, one stream per page): `subscribe(work)` runs
 * `work` each time the local index took new records, and once whenever the stream (re)opens
 * or the page becomes visible again, so what happened meanwhile is caught up on. A `work` that
 * is still running when the next change comes runs once more after it, never twice at once.
 */
export function changeEvents(url = '/api/events') {
  const works = new Set();
  const trigger = () => {
    if (document.visibilityState !== 'visible') return;
    for (const run of works) run();
  };
  // Opened by the first subscriber: before signing in there is nothing to listen to.
  let source;
  const open = () => {
    if (source) return;
    source = new EventSource(url);
    source.addEventListener('ready', trigger);
    source.addEventListener('change', trigger);
    document.addEventListener('visibilitychange', trigger);
  };
  return {
    subscribe: (work) => {
      open();
      let running = false;
      let again = false;
      const run = () => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        Promise.resolve()
          .then(work)
          .finally(() => {
            running = false;
            if (again) {
              again = false;
              run();
            }
          });
      };
      works.add(run);
      return () => works.delete(run);
    },
    close: () => {
      source?.close();
      document.removeEventListener('visibilitychange', trigger);
      works.clear();
    },
  };
}

/**
 * Refreshes of the view on screen: `live(work, ms)` runs `work` on each of `changes`' events
 * when given (see changeEvents), else every `ms`, while the page is visible and `paused()` is
 * false; `stop()` ends them all (the route changed). An answer 404 means what is on screen is
 * gone (deleted, or one was removed from it): `onGone` says so; an answer 401 goes to
 * `onUnauthorized` when given.
 */
export function liveViews({ paused, onGone, onUnauthorized, changes }) {
  let stops = [];
  const guarded = (work) => () => {
    if (document.visibilityState !== 'visible' || paused()) return Promise.resolve();
    return work().catch((error) => {
      if (error instanceof ApiError && error.status === 404) onGone();
      if (onUnauthorized && error instanceof ApiError && error.status === 401) {
        onUnauthorized();
      }
    });
  };
  return {
    live: (work, ms) => {
      if (changes) {
        stops.push(changes.subscribe(guarded(work)));
        return;
      }
      const timer = setInterval(guarded(work), ms);
      stops.push(() => clearInterval(timer));
    },
    stop: () => {
      for (const stop of stops) stop();
      stops = [];
    },
  };
}

/** Goes to `hash`, or shows its route again when it is the current one. */
export function navigator(route) {
  return (hash) => {
    if (location.hash === hash) void route();
    else location.hash = hash;
  };
}

/** Sets the page's title: `title · p2pcloud <name>`. */
export function titleSetter(name) {
  return (title) => {
    document.title = title ? `${title} · p2pcloud ${name}` : `p2pcloud ${name}`;
  };
}

/** The top bar: the app's mark and name (a link home), and `right` at the far end. */
export function topbar(logo, name, right) {
  return h(
    'header.topbar',
    {},
    h(
      'a.brand',
      { href: '#/' },
      h('span.logo', {}, logo),
      h('span', {}, ' p2pcloud '),
      h('span.brand-sub', {}, name),
    ),
    h('div.spacer'),
    right,
  );
}

/** The sidebar's invitations under `title`, each drawn by `card`; nothing when there are none. */
export function invitationsSection(title, invitations, card) {
  if (invitations.length === 0) return null;
  return h('section.side-section.invitations', {}, h('h3', {}, title), invitations.map(card));
}

/**
 * One invitation: its `name`, who sent it, and the buttons that `join` (called with the click)
 * and `decline` it. `attrs` are more attributes of the card.
 */
export function invitationCard(invitation, { name, attrs = {}, join, decline }) {
  return h(
    'div.invitation',
    { 'data-test': 'invitation', ...attrs },
    h('div', {}, h('strong', {}, name)),
    h('div.hint', {}, 'from ', h('code', { title: invitation.from }, shortId(invitation.from))),
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

/**
 * Ends the session and loads the page again, without its #route (setting the hash would route
 * first). `stopRefreshes` runs first, so that no refresh is answered 401 after the session ends.
 */
export async function signOut(stopRefreshes) {
  stopRefreshes();
  await idle();
  await post('/api/auth/logout');
  location.replace(location.pathname);
}

/**
 * Starts the page in `root`: the app itself when a session is open, or the sign-in first
 * (`showLogin(root, onSignedIn)`, then `start(options)` with what it signed in with). A failure
 * to start says so in the page, under the app's `name`.
 */
export function startPage(root, name, showLogin, start) {
  const boot = async () => {
    const session = await get('/api/auth/session');
    if (!session.signed_in) {
      await showLogin(root, (_me, options) => start(options));
      return;
    }
    await start({});
  };
  boot().catch((error) => {
    replace(
      root,
      h(
        'div.card.empty',
        {},
        h('h2', {}, `The ${name} could not start`),
        h('p', {}, error.message),
      ),
    );
  });
}
