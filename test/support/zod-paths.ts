import type * as z from 'zod';
import { formatPath } from '../../src/api/rules.js';

/** Field paths of a zod error as the API server prints them; unknown keys name the key itself. */
export function issuePaths(error: z.ZodError, prefix: string[] = ['spec']): string[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => formatPath([...prefix, ...i.path, k])) : [formatPath([...prefix, ...i.path])],
  );
}
