// Small controls shared by the views.

import { h } from '../shared/dom.js';

/** How long a button that destroys something waits for its confirming second click. */
const CONFIRM_MS = 5000;

/** A button that acts on its second click within CONFIRM_MS (the first arms it). */
export function confirmButton(label, armedLabel, test, act) {
  let timer;
  const button = h(
    'button.small.danger',
    {
      type: 'button',
      'data-test': test,
      onclick: async () => {
        if (!button.classList.contains('armed')) {
          button.classList.add('armed');
          button.textContent = armedLabel;
          timer = setTimeout(() => {
            button.classList.remove('armed');
            button.textContent = label;
          }, CONFIRM_MS);
          return;
        }
        clearTimeout(timer);
        button.disabled = true;
        await act();
      },
    },
    label,
  );
  return button;
}
