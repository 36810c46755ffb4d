/** Validation of JSON request bodies against strict schemas (unknown members are an error). */
import type { z } from 'zod';
import { P2PError } from '../../errors.js';
import { describeIssues } from '../../zod-issues.js';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new P2PError(
      'bad_request',
      `invalid request body: ${describeIssues(parsed.error, '(body)')}`,
    );
  }
  return parsed.data;
}
