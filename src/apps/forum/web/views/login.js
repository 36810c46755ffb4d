// Signing in with a key: a key file picked here, an identity kept in this browser, or a new
// identity made here with WebCrypto. The gateway sends a challenge, this page signs it, and the
// gateway opens a session. An identity the gateway does not hold yet is first registered with
// it: its key file goes to the gateway on this machine (loopback), never further.

import { ApiError, post } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import * as ids from '../lib/identity.js';

async function signIn(keyFile) {
  const { challenge } = await post('/api/auth/challenge');
  const signature = await ids.signLogin(keyFile, challenge);
  return post('/api/auth/login', { identity: keyFile.public, challenge, signature });
}

async function register(keyFile) {
  await post('/api/identities', { key_file: keyFile });
}

export async function showLogin(root, onSignedIn) {
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
        const keyFile = await ids.checkKeyFile(JSON.parse(await file.text()));
        await finish(keyFile);
      } catch (e) {
        error.textContent = e instanceof SyntaxError ? 'This file is not JSON.' : e.message;
      } finally {
        fileInput.value = '';
      }
    },
  });

  const create = h(
    'button.primary.big',
    {
      type: 'button',
      'data-test': 'create-identity',
      onclick: async () => {
        create.disabled = true;
        error.textContent = '';
        try {
          const keyFile = await ids.generateIdentity();
          await ids.storeIdentity(keyFile);
          await finish(keyFile, { register: true, created: true });
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
        h('div.brand-big', {}, h('span.logo', {}, '◆'), ' p2pcloud forum'),
        h(
          'p.lead',
          {},
          'Communities, posts and comments on an encrypted peer-to-peer database. No passwords: you sign in with your own key, and it never leaves this computer.',
        ),
        stored,
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
              ' writes, or one you downloaded here.',
            ),
            h('label.file-button', {}, 'Choose key file…', fileInput),
          ),
          h(
            'div.option',
            {},
            h('h2', {}, 'I am new here'),
            h(
              'p.hint',
              {},
              'Makes an Ed25519 + X25519 identity in this browser, keeps it here, and lets you download it as a key file.',
            ),
            create,
          ),
        ),
        confirmBox,
        error,
      ),
    ),
  );
}
