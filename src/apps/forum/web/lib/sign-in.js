// Signing in with a key, the one way every p2pcloud app page does it (docs/gateway.md §2 and
// §11): a key file picked here, an identity kept in this browser, or a new identity made here
// with WebCrypto. The gateway sends a challenge, this page signs it, and the gateway opens a
// session (an HttpOnly, SameSite=Strict cookie). An identity the gateway does not hold yet is
// first registered with it: its key file goes to the gateway on this machine (loopback), never
// further.

import { ApiError, post } from './api.js';
import { h, replace } from './dom.js';
import * as ids from './identity.js';

async function signIn(keyFile) {
  const { challenge } = await post('/api/auth/challenge');
  const signature = await ids.signLogin(keyFile, challenge);
  return post('/api/auth/login', { identity: keyFile.public, challenge, signature });
}

async function register(keyFile) {
  await post('/api/identities', { key_file: keyFile });
}

/**
 * Shows the sign-in card in `root` and calls `onSignedIn(me, { created })` once a session is open
 * (`created`: the key file of an identity made here, to offer its download). `page` holds what
 * differs between the apps: `logo`, `name`, `lead`, `keyFileSource` (where a key file comes from),
 * `createHint`, and the classes of the create button and of the key file picker.
 */
export async function showSignIn(root, onSignedIn, page) {
  const error = h('p.form-error', { role: 'alert', 'data-test': 'login-error' });
  const stored = h('div.stored-identities');
  const confirmBox = h('div.confirm');

  const finish = async (keyFile, options = {}) => {
    try {
      // Identities made or kept in this browser are registered first (a no-op if the gateway
      // holds them already); a picked key file is only registered if the user says so.
      if (options.register) await register(keyFile);
      let me;
      try {
        me = await signIn(keyFile);
      } catch (e) {
        if (e instanceof ApiError && e.code === 'unknown_identity') return askToRegister(keyFile);
        throw e;
      }
      await onSignedIn(me, options);
    } catch (e) {
      error.textContent = e.message;
    }
  };

  const askToRegister = (keyFile) => {
    replace(
      confirmBox,
      h(
        'div.notice',
        {},
        h('strong', {}, 'This gateway does not hold this identity yet. '),
        'Add it to the gateway on this computer? The key file goes to 127.0.0.1 only, never to the network.',
        h(
          'div.row',
          {},
          h(
            'button.primary',
            {
              type: 'button',
              'data-test': 'register-identity',
              onclick: () => finish(keyFile, { register: true }),
            },
            'Add to this gateway and sign in',
          ),
          h('button', { type: 'button', onclick: () => replace(confirmBox) }, 'Cancel'),
        ),
      ),
    );
  };

  const fileInput = h('input', {
    type: 'file',
    accept: '.json,application/json',
    'data-test': 'key-file',
    onchange: async () => {
      error.textContent = '';
      const file = fileInput.files?.[0];
      if (!file) return;
      try {
        await finish(await ids.checkKeyFile(JSON.parse(await file.text())));
      } catch (e) {
        error.textContent = e instanceof SyntaxError ? 'This file is not JSON.' : e.message;
      } finally {
        fileInput.value = '';
      }
    },
  });

  const create = h(
    page.createButton,
    {
      type: 'button',
      'data-test': 'create-identity',
      onclick: async () => {
        create.disabled = true;
        error.textContent = '';
        try {
          const keyFile = await ids.generateIdentity();
          await ids.storeIdentity(keyFile);
          await finish(keyFile, { register: true, created: keyFile });
        } catch (e) {
          error.textContent = `Could not create an identity here: ${e.message}`;
        } finally {
          create.disabled = false;
        }
      },
    },
    'Create a new identity',
  );

  const list = await ids.storedIdentities().catch(() => []);
  if (list.length > 0) {
    replace(
      stored,
      h('h2', {}, 'Identities in this browser'),
      list.map((keyFile) =>
        h(
          'div.stored',
          {},
          h('code', { title: keyFile.public }, ids.shortId(keyFile.public)),
          h(
            'button.primary',
            {
              type: 'button',
              'data-test': 'stored-sign-in',
              onclick: () => finish(keyFile, { register: true }),
            },
            'Sign in',
          ),
        ),
      ),
    );
  }

  replace(
    root,
    h(
      'div.login',
      {},
      h(
        'div.login-card.card',
        { 'data-test': 'login' },
        h('div.brand-big', {}, h('span.logo', {}, page.logo), ` p2pcloud ${page.name}`),
        h('p.lead', {}, page.lead),
        // Only when there is one: an empty block would still take a gap in a flex card.
        list.length > 0 ? stored : null,
        h(
          'div.login-options',
          {},
          h(
            'div.option',
            {},
            h('h2', {}, 'I have a key file'),
            h(
              'p.hint',
              {},
              'The identity JSON that ',
              h('code', {}, 'p2pcloud keygen'),
              ` writes, or one you downloaded ${page.keyFileSource}.`,
            ),
            h(page.fileButton, {}, 'Choose key file…', fileInput),
          ),
          h(
            'div.option',
            {},
            h('h2', {}, 'I am new here'),
            h('p.hint', {}, page.createHint),
            create,
          ),
        ),
        confirmBox,
        error,
      ),
    ),
  );
}
