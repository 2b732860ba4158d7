// kubectl canary's command line, without an API server: commands, flags, their errors and the usage text.
import { describe, expect, it } from '@jest/globals';
import { run } from '../../src/cli/kubectl-canary.js';
import { parseArgs, type Invocation } from '../../src/cli/kubectl-canary/args.js';
import { parseTimeout } from '../../src/util/duration.js';

const ok = (argv: string[]): Invocation => {
  const r = parseArgs(argv);
  if (!r.ok) throw new Error(r.error);
  return r.invocation;
};
const err = (argv: string[]): string => {
  const r = parseArgs(argv);
  if (r.ok) throw new Error(`expected an error for ${argv.join(' ')}`);
  return r.error;
};

describe('kubectl canary: arguments', () => {
  it('parses every command with its flags', () => {
    expect(ok([]).command).toEqual({ kind: 'help' });
    expect(ok(['help']).command).toEqual({ kind: 'help' });
    expect(ok(['status', 'x', '--help']).command).toEqual({ kind: 'help' });
    expect(ok(['list']).command).toEqual({ kind: 'list' });
    expect(ok(['ls', '-o', 'json']).command).toEqual({ kind: 'list', output: 'json' });
    expect(ok(['list', '-oyaml']).command).toEqual({ kind: 'list', output: 'yaml' });
    expect(ok(['list', '--output=json']).command).toEqual({ kind: 'list', output: 'json' });
    expect(ok(['list', '-o=json']).command).toEqual({ kind: 'list', output: 'json' });
    expect(ok(['status', '-wojson', 'r1']).command).toEqual({ kind: 'status', name: 'r1', watch: true, output: 'json' });
    expect(ok(['plan', '-f', '-']).command).toEqual({ kind: 'plan', file: '-' });
    expect(ok(['status', '--', 'r1']).command).toEqual({ kind: 'status', name: 'r1', watch: false });
    expect(ok(['status', 'r1']).command).toEqual({ kind: 'status', name: 'r1', watch: false });
    expect(ok(['status', '-w', 'r1']).command).toEqual({ kind: 'status', name: 'r1', watch: true });
    expect(ok(['status', 'r1', '--watch', '-o', 'yaml']).command).toEqual({ kind: 'status', name: 'r1', watch: true, output: 'yaml' });
    expect(ok(['plan', '-f', 'r.yaml']).command).toEqual({ kind: 'plan', file: 'r.yaml' });
    expect(ok(['plan', '--filename=r.yaml', '-o', 'json']).command).toEqual({ kind: 'plan', file: 'r.yaml', output: 'json' });
    for (const op of ['pause', 'resume', 'abort', 'promote', 'retry']) {
      expect(ok([op, 'r1']).command).toEqual({ kind: 'operation', operation: op, name: 'r1' });
    }
    expect(ok(['pause', 'r1', '--reason', 'change freeze']).command).toEqual({ kind: 'operation', operation: 'pause', name: 'r1', reason: 'change freeze' });
    expect(ok(['pause', 'r1', '--reason=']).command).toMatchObject({ reason: '' });
  });

  it('takes connection flags anywhere, and a request timeout', () => {
    const inv = ok(['--kubeconfig', '/k', 'status', '--context=dev', 'r1', '--request-timeout', '5s']);
    expect(inv).toEqual({ command: { kind: 'status', name: 'r1', watch: false }, kubeconfig: '/k', context: 'dev', requestTimeoutMs: 5000 });
    expect(ok(['list']).requestTimeoutMs).toBe(30_000);
    expect(parseTimeout('1m30s')).toBe(90_000);
    expect(parseTimeout('7')).toBe(7000);
    expect(parseTimeout('soon')).toBeUndefined();
  });

  it('rejects unknown commands and flags, missing or extra arguments, and flags of other commands', () => {
    expect(err(['deploy'])).toBe('unknown command "deploy"');
    expect(err(['list', '--all'])).toBe('unknown flag --all');
    expect(err(['list', '-x'])).toBe('unknown flag -x');
    expect(err(['status'])).toBe('"status" needs a rollout NAME');
    expect(err(['status', 'a', 'b'])).toBe('"status" takes only a rollout NAME, got: b');
    expect(err(['list', 'a'])).toBe('"list" takes no arguments, got: a');
    expect(err(['plan'])).toBe('"plan" needs -f FILE');
    expect(err(['plan', '-f'])).toBe('flag --filename needs a value');
    expect(err(['pause', 'r1', '--reason'])).toBe('flag --reason needs a value');
    expect(err(['list', '-o', 'wide'])).toBe('--output must be yaml or json, not "wide"');
    expect(err(['list', '--watch'])).toBe('flag --watch does not apply to "list"');
    expect(err(['pause', 'r1', '-o', 'json'])).toBe('flag --output does not apply to "pause"');
    expect(err(['status', 'r1', '--reason', 'x'])).toBe('flag --reason does not apply to "status"');
    expect(err(['status', 'r1', '--watch=no'])).toBe('flag --watch takes no value');
    expect(err(['pause', 'r1', '--reason', '--watch'])).toBe('flag --reason needs a value');
    expect(err(['constructor'])).toBe('unknown command "constructor"');
    expect(err(['list', '--request-timeout', 'soon'])).toBe('--request-timeout must be a duration like 10s or 1m, not "soon"');
  });

  it('run() prints usage with exit code 2 on a usage error and 0 for help, without touching any cluster', async () => {
    const out: string[] = [];
    const errs: string[] = [];
    const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => errs.push(s) }, env: {} };
    expect(await run(['frobnicate'], io)).toBe(2);
    expect(errs.join('')).toMatch(/^error: unknown command "frobnicate"\n\nkubectl canary:.*\nUsage:/s);
    expect(await run(['help'], io)).toBe(0);
    expect(out.join('')).toContain('kubectl canary plan -f FILE');
  });
});
