import type { z } from 'zod';

/** Every problem zod found, as `path: message` joined by "; " (`root` names an empty path). */
export function describeIssues(error: z.ZodError, root = '(root)'): string {
  return error.issues
    .map((issue) => `${issue.path.join('.') || root}: ${issue.message}`)
    .join('; ');
}
