// Signing in with a key, as in the forum (docs/gateway.md §2 and §11): a key file picked here,
// an identity kept in this browser, or a new one made here with WebCrypto. The gateway sends a
// challenge, this page signs it, and the gateway opens a session (an HttpOnly, SameSite=Strict
// cookie). An identity the gateway does not hold yet is first registered with it, over
// loopback only.

import { ApiError, post } from '../shared/api.js';
import { h, replace } from '../shared/dom.js';
import * as ids from '../shared/identity.js';

async function signIn(keyFile) {
  const { challenge } = await post('/api/auth/challenge');
  const signature = await ids.signLogin(keyFile, challenge);
  return post('/api/auth/login', { identity: keyFile.public, challenge, signature });
}

export async function showLogin(root, onSignedIn) {
  const error = h('p.form-error', { role: 'alert', 'data-test': 'login-error' });
  const confirmBox = h('div.confirm');

  const finish = async (keyFile, options = {}) => {
    try {
      if (options.register) await post('/api/identities', { key_file: keyFile });
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
    'button.primary',
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
  replace(
    root,
    h(
      'div.login',
      {},
      h(
        'div.login-card.card',
        { 'data-test': 'login' },
        h('div.brand-big', {}, h('span.logo', {}, '▣'), ' p2pcloud drive'),
        h(
          'p.lead',
          {},
          'Your files, encrypted on this computer before they reach the nodes that store them. No passwords: you sign in with your own key, and it never leaves this computer.',
        ),
        list.length > 0
          ? h(
              'div.stored-identities',
              {},
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
            )
          : null,
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
              ' writes, or one you downloaded from a p2pcloud app.',
            ),
            h('label.button', {}, 'Choose key file…', fileInput),
          ),
          h(
            'div.option',
            {},
            h('h2', {}, 'I am new here'),
            h(
              'p.hint',
              {},
              'Makes an identity in this browser and keeps it here. Download its key file afterwards (under your name, top right): it is the only way back in if this browser forgets it.',
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
