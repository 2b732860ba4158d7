// kubectl canary's command line: the commands, their flags, the usage text, and argv parsed into an Invocation.
// Pure: unit-tested without an API server.
import { parseArgs as parseArgv, type ParseArgsConfig } from 'node:util';
import { parseTimeout } from '../../util/duration.js';
import { Operation } from '../../api/v1alpha1.js';

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

/** The flags, declared once for node:util's parseArgs. */
const OPTIONS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  'request-timeout': { type: 'string' },
  output: { type: 'string', short: 'o' },
  watch: { type: 'boolean', short: 'w' },
  filename: { type: 'string', short: 'f' },
  reason: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Flag = keyof typeof OPTIONS;
const isFlag = (name: string): name is Flag => Object.hasOwn(OPTIONS, name);

/** The commands a flag means something for; a flag not named here applies to all. */
const ONLY_FOR: Partial<Record<Flag, readonly Command['kind'][]>> = {
  output: ['list', 'status', 'plan'],
  watch: ['status'],
  filename: ['plan'],
  reason: ['operation'],
};

/** The command words but the operations (those are the API's Operation values). */
const COMMANDS = new Map<string, Command['kind']>([
  ['list', 'list'],
  ['ls', 'list'],
  ['status', 'status'],
  ['plan', 'plan'],
  ['help', 'help'],
]);

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

type Token = NonNullable<ReturnType<typeof parseArgv>['tokens']>[number];

/**
 * The first flag that strict parsing rejected, in kubectl's words (parseArgs's own messages speak of JavaScript
 * options), found in the tokens of a lenient parse of the same argv.
 */
function flagProblem(tokens: readonly Token[]): string | undefined {
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (!isFlag(t.name)) return `unknown flag ${t.rawName}`;
    if (OPTIONS[t.name].type === 'boolean') {
      if (t.value !== undefined) return `flag --${t.name} takes no value`;
    } else if (t.value === undefined || (!t.inlineValue && t.value.length > 1 && t.value.startsWith('-'))) {
      // `--reason -x`: strict parsing does not take a flag-like word as a value ('-' alone, stdin by convention, is one)
      return `flag --${t.name} needs a value`;
    }
  }
  return undefined;
}

/** argv's flags (the last of a repeated one wins; `true` for a boolean) and its positional arguments. */
function scan(argv: readonly string[]): { flags: Map<Flag, string | true>; positional: string[] } | { error: string } {
  const config = { args: [...argv], options: OPTIONS, allowPositionals: true, tokens: true } as const;
  let tokens: Token[];
  try {
    tokens = parseArgv({ ...config, strict: true }).tokens;
  } catch (err) {
    return { error: flagProblem(parseArgv({ ...config, strict: false }).tokens) ?? (err instanceof Error ? err.message : String(err)) };
  }
  const flags = new Map<Flag, string | true>();
  const positional: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positional.push(t.value);
    else if (t.kind === 'option' && isFlag(t.name)) {
      // -o=json the way kubectl reads it: parseArgs keeps the '=' of a short flag's attached value
      flags.set(t.name, t.value === undefined ? true : t.inlineValue && !t.rawName.startsWith('--') && t.value.startsWith('=') ? t.value.slice(1) : t.value);
    }
  }
  return { flags, positional };
}

export function parseArgs(argv: readonly string[]): ParseResult {
  const fail = (error: string): ParseResult => ({ ok: false, error });
  const scanned = scan(argv);
  if ('error' in scanned) return fail(scanned.error);
  const { flags } = scanned;
  const text = (f: Flag): string | undefined => {
    const v = flags.get(f);
    return typeof v === 'string' ? v : undefined;
  };
  const [word, ...args] = scanned.positional;
  if (flags.has('help') || word === undefined) return { ok: true, invocation: { command: { kind: 'help' }, requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS } };
  const operation = Operation.safeParse(word);
  const kind = operation.success ? 'operation' : COMMANDS.get(word);
  if (!kind) return fail(`unknown command "${word}"`);
  for (const f of flags.keys()) {
    const allowed = ONLY_FOR[f];
    if (allowed && !allowed.includes(kind)) return fail(`flag --${f} does not apply to "${word}"`);
  }

  const outputText = text('output');
  const output: OutputFormat | undefined = outputText === 'yaml' || outputText === 'json' ? outputText : undefined;
  if (outputText !== undefined && output === undefined) return fail(`--output must be yaml or json, not "${outputText}"`);
  const timeoutText = text('request-timeout');
  const timeout = timeoutText === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : parseTimeout(timeoutText);
  if (timeout === undefined || timeout <= 0) return fail(`--request-timeout must be a duration like 10s or 1m, not "${timeoutText}"`);

  const expect = (n: number, what: string): string | undefined =>
    args.length < n ? `"${word}" needs ${what}` : args.length > n ? `"${word}" takes ${n === 0 ? 'no arguments' : `only ${what}`}, got: ${args.slice(n).join(' ')}` : undefined;
  const out: { output?: OutputFormat } = output !== undefined ? { output } : {};
  const file = text('filename');
  const reason = text('reason');
  let command: Command;
  let problem: string | undefined;
  if (operation.success) {
    problem = expect(1, 'a rollout NAME');
    command = { kind: 'operation', operation: operation.data, name: args[0] ?? '', ...(reason !== undefined ? { reason } : {}) };
  } else {
    switch (kind) {
      case 'help':
      case 'operation':
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
      case 'plan':
        problem = expect(0, '') ?? (file === undefined ? '"plan" needs -f FILE' : undefined);
        command = { kind: 'plan', file: file ?? '', ...out };
        break;
    }
  }
  if (problem) return fail(problem);
  const kubeconfig = text('kubeconfig');
  const context = text('context');
  return {
    ok: true,
    invocation: { command, requestTimeoutMs: timeout, ...(kubeconfig !== undefined ? { kubeconfig } : {}), ...(context !== undefined ? { context } : {}) },
  };
}
