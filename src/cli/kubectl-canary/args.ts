// kubectl canary's command line: the commands, their flags, the usage text, and argv parsed into an Invocation.
// Pure: unit-tested without an API server.
import { parseTimeout } from '../../util/duration.js';
import { OPERATIONS, type Operation } from '../../api/v1alpha1.js';

export type OutputFormat = 'yaml' | 'json';

export type Command =
  | { kind: 'help' }
  | { kind: 'list'; output?: OutputFormat }
  | { kind: 'status'; name: string; watch: boolean; output?: OutputFormat }
  | { kind: 'plan'; file: string; output?: OutputFormat }
  | { kind: 'operation'; operation: Operation; name: string; reason?: string };

export interface Invocation {
  command: Command;
  kubeconfig?: string;
  context?: string;
  /** Per API request; a server that does not answer in time counts as unreachable. */
  requestTimeoutMs: number;
}

export type ParseResult = { ok: true; invocation: Invocation } | { ok: false; error: string };

export const USAGE = `kubectl canary: inspect and operate CanaryRollouts (canary.gardener.cloud/v1alpha1)

Usage:
  kubectl canary list [-o yaml|json]                       all rollouts (alias: ls)
  kubectl canary status NAME [--watch] [-o yaml|json]      waves, health against the gate, last decisions, next steps
  kubectl canary plan -f FILE [-o yaml|json]               preview the waves of a rollout against the live landscape
                                                           (dry run: creates nothing)
  kubectl canary pause|resume|abort|promote|retry NAME [--reason TEXT]
                                                           ask the controller for an operation
  kubectl canary help

Flags:
  --kubeconfig PATH        kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME           kubeconfig context to use (default: its current context)
  --request-timeout DUR    give up on an API request after this long, e.g. 10s or 1m (default 30s)
  -o, --output FORMAT      yaml or json instead of the human-readable output
  -w, --watch              status: redraw on every change until the rollout is finished (Ctrl-C stops)
  -f, --filename FILE      plan: a YAML file with one CanaryRollout
  --reason TEXT            operations: why, recorded in the rollout's history
  -h, --help               this text
`;

interface FlagSpec {
  /** Takes a value (next argument or --flag=value). */
  value: boolean;
  /** Commands that accept it; undefined: all. */
  commands?: readonly Command['kind'][];
}

const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: { value: true },
  context: { value: true },
  'request-timeout': { value: true },
  output: { value: true, commands: ['list', 'status', 'plan'] },
  watch: { value: false, commands: ['status'] },
  filename: { value: true, commands: ['plan'] },
  reason: { value: true, commands: ['operation'] },
  help: { value: false },
};
const SHORT: Record<string, string> = { o: 'output', w: 'watch', f: 'filename', h: 'help' };

const COMMANDS: Record<string, Command['kind']> = {
  list: 'list',
  ls: 'list',
  status: 'status',
  plan: 'plan',
  help: 'help',
  ...Object.fromEntries(OPERATIONS.map((op) => [op, 'operation' as const])),
};

export function parseArgs(argv: readonly string[]): ParseResult {
  const fail = (error: string): ParseResult => ({ ok: false, error });
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else if (a.startsWith('-') && a.length > 1) {
      // -o json, -ojson, -o=json
      const long = SHORT[a[1]!];
      if (!long) return fail(`unknown flag ${a}`);
      name = long;
      const rest = a.slice(2);
      inline = rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest;
    } else {
      positional.push(a);
      continue;
    }
    const spec = FLAGS[name];
    if (!spec) return fail(`unknown flag ${a}`);
    if (!spec.value) {
      if (inline !== undefined && inline !== 'true') return fail(`flag --${name} takes no value`);
      flags.set(name, 'true');
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('-') && value !== '-')) return fail(`flag --${name} needs a value`);
    flags.set(name, value);
  }

  const [word, ...args] = positional;
  if (flags.has('help') || word === undefined) return { ok: true, invocation: { command: { kind: 'help' }, requestTimeoutMs: 30_000 } };
  const kind = COMMANDS[word];
  if (!kind) return fail(`unknown command "${word}"`);
  for (const f of flags.keys()) {
    const allowed = FLAGS[f]!.commands;
    if (allowed && !allowed.includes(kind)) return fail(`flag --${f} does not apply to "${word}"`);
  }

  const output = flags.get('output');
  if (output !== undefined && output !== 'yaml' && output !== 'json') return fail(`--output must be yaml or json, not "${output}"`);
  const timeout = flags.has('request-timeout') ? parseTimeout(flags.get('request-timeout')!) : 30_000;
  if (timeout === undefined || timeout <= 0) return fail(`--request-timeout must be a duration like 10s or 1m, not "${flags.get('request-timeout')}"`);

  const expect = (n: number, what: string): string | undefined =>
    args.length < n ? `"${word}" needs ${what}` : args.length > n ? `"${word}" takes ${n === 0 ? 'no arguments' : `only ${what}`}, got: ${args.slice(n).join(' ')}` : undefined;
  const out = output !== undefined ? { output: output as OutputFormat } : {};
  let command: Command;
  let problem: string | undefined;
  switch (kind) {
    case 'help':
      command = { kind: 'help' };
      break;
    case 'list':
      problem = expect(0, '');
      command = { kind: 'list', ...out };
      break;
    case 'status':
      problem = expect(1, 'a rollout NAME');
      command = { kind: 'status', name: args[0] ?? '', watch: flags.has('watch'), ...out };
      break;
    case 'plan': {
      problem = expect(0, '') ?? (flags.has('filename') ? undefined : '"plan" needs -f FILE');
      command = { kind: 'plan', file: flags.get('filename') ?? '', ...out };
      break;
    }
    case 'operation': {
      problem = expect(1, 'a rollout NAME');
      const reason = flags.get('reason');
      command = { kind: 'operation', operation: word as Operation, name: args[0] ?? '', ...(reason !== undefined ? { reason } : {}) };
      break;
    }
  }
  if (problem) return fail(problem);
  const kubeconfig = flags.get('kubeconfig');
  const context = flags.get('context');
  return {
    ok: true,
    invocation: { command, requestTimeoutMs: timeout, ...(kubeconfig !== undefined ? { kubeconfig } : {}), ...(context !== undefined ? { context } : {}) },
  };
}
