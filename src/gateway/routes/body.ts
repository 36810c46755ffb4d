/** Validation of JSON request bodies against strict schemas (unknown members are an error). */
import type { z } from 'zod';
import { P2PError } from '../../errors.js';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const reasons = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw new P2PError('bad_request', `invalid request body: ${reasons}`);
  }
  return parsed.data;
}
