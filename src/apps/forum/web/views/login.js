// The forum's sign-in card: the shared sign-in (lib/sign-in.js) with the forum's words.

import { showSignIn } from '../lib/sign-in.js';

export function showLogin(root, onSignedIn) {
  return showSignIn(root, onSignedIn, {
    logo: '◆',
    name: 'forum',
    lead: 'Communities, posts and comments on an encrypted peer-to-peer database. No passwords: you sign in with your own key, and it never leaves this computer.',
    keyFileSource: 'here',
    createHint:
      'Makes an Ed25519 + X25519 identity in this browser, keeps it here, and lets you download it as a key file.',
    createButton: 'button.primary.big',
    fileButton: 'label.file-button',
  });
}
