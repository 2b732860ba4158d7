import { describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createLogger } from '../../src/util/log.js';

const logged = (err: unknown): Record<string, unknown> => {
  const lines: string[] = [];
  createLogger({ write: (l) => lines.push(l), now: () => new Date(0) }).error('it failed', err, { rollout: 'r' });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain('"msg":"it failed"');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
};

describe('logger', () => {
  it('logs an error with its stack and its causes, bounded', () => {
    const root = new Error('socket hang up');
    const err = new Error('writing the status of CanaryRollout r', { cause: new Error('patching', { cause: root }) });
    const line = logged(err);
    expect(line).toMatchObject({ level: 'error', msg: 'it failed', rollout: 'r', error: { message: 'writing the status of CanaryRollout r', cause: { message: 'patching', cause: { message: 'socket hang up' } } } });
    expect((line.error as { stack: string }).stack).toMatch(/^Error: writing the status/);
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    let depth = 0;
    for (let e = logged(loop).error as { cause?: unknown } | undefined; e; e = e.cause as { cause?: unknown } | undefined) depth++;
    expect(depth).toBeLessThanOrEqual(7);
  });

  it("logs an API error's status code and the reason of the Status it carries", () => {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409, message: 'the object has been modified' });
    const err = new k8s.ApiException(409, 'HTTP-Code: 409', body, {});
    expect(logged(new Error('writing', { cause: err })).error).toMatchObject({ message: 'writing', cause: { code: 409, reason: 'Conflict' } });
    expect(logged('plain').error).toEqual({ message: 'plain' });
  });
});
