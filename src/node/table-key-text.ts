/** A table public key in a config file: p2ptable1… or 64 hex characters. */
import { z } from 'zod';
import { parsePublicKey } from '../encoding/key-text.js';

export const tableKeyText = z.string().refine(
  (text) => {
    try {
      parsePublicKey(text, 'table');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'must be a table public key (p2ptable1… or 64 hex characters)' },
);
