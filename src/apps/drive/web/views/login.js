// The drive's sign-in card: the forum's sign-in (served under /drive/shared/) with the drive's
// words, so that both apps sign in the one way.

import { showSignIn } from '../shared/sign-in.js';

export function showLogin(root, onSignedIn) {
  return showSignIn(root, onSignedIn, {
    logo: '▣',
    name: 'drive',
    lead: 'Your files, encrypted on this computer before they reach the nodes that store them. No passwords: you sign in with your own key, and it never leaves this computer.',
    keyFileSource: 'from a p2pcloud app',
    createHint:
      'Makes an identity in this browser and keeps it here. Download its key file afterwards (under your name, top right): it is the only way back in if this browser forgets it.',
    createButton: 'button.primary',
    fileButton: 'label.button',
  });
}
