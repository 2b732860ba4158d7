// `kubectl canary`: the operator's view of CanaryRollouts. kubectl finds the executable `kubectl-canary` on the
// PATH (bin/kubectl-canary, installed through package.json `bin`) and hands it the arguments after `canary`.
//
// Layout: argument parsing, formatting and error mapping are pure functions of plain data (unit-tested without
// an API server); all I/O sits in run(argv, io), which returns an exit code instead of exiting so tests can
// call it in-process as well as through the binary. Exit codes: 0 done, 1 failed (with a message), 2 usage.
import { parseTimeout } from '../util/duration.js';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import type * as z from 'zod';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, CanaryRollout, FINAL_PHASES, OPERATIONS, type Operation } from '../api/v1alpha1.js';
import { formatPath } from '../api/rules.js';
import { observe } from '../engine/evaluate.js';
import { planRollout, productionShoots, type PlanResult } from '../engine/planner.js';
import { parseManagedSeed, parseSeed, trimShoot } from '../gardener/trim.js';
import { KubeClient, PooledKubeConfig, RESOURCES, apiErrorBody, errorMessage, statusCode, type ResourceType } from '../kube/client.js';
import { renderStatus } from './render.js';

// ---------------------------------------------------------------------------------------------------------
// Arguments

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

// ---------------------------------------------------------------------------------------------------------
// Formatting (pure)

/** Like kubectl's AGE column: 45s, 5m10s, 42m, 3h15m, 20h, 3d4h, 12d. */
export function age(from: string | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / 1000));
  if (Number.isNaN(s)) return '<unknown>';
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return `${d}d`;
}

/**
 * `s` without what a terminal would act on instead of print: ANSI escape sequences (CSI such as colours and cursor
 * moves, OSC such as window titles and hyperlinks, DCS/SOS/PM/APC strings, two-character escapes; 7-bit and 8-bit
 * forms) and every other control character, C0 but newline and tab, DEL and C1. Text from the API (messages,
 * reasons, names, history) goes through it before it reaches a terminal: whoever may write a status or an
 * annotation must not be able to rewrite the operator's screen.
 */
export function printable(s: string): string {
  let out = '';
  let i = 0;
  const at = (j: number) => (j < s.length ? s.charCodeAt(j) : -1);
  // the end of a control string (OSC, DCS, SOS, PM, APC) started at j: after BEL or ST (ESC \ or 0x9c); unterminated, the introducer alone
  const stringEnd = (j: number, introducer: number) => {
    for (let k = j; k < s.length; k++) {
      const c = at(k);
      if (c === 0x07 || c === 0x9c) return k + 1;
      if (c === 0x1b && at(k + 1) === 0x5c) return k + 2;
    }
    return introducer;
  };
  // the end of a CSI's parameters (0x30-0x3f), intermediates (0x20-0x2f) and final byte (0x40-0x7e) from j
  const csiEnd = (j: number) => {
    while (at(j) >= 0x30 && at(j) <= 0x3f) j++;
    while (at(j) >= 0x20 && at(j) <= 0x2f) j++;
    return at(j) >= 0x40 && at(j) <= 0x7e ? j + 1 : j;
  };
  while (i < s.length) {
    const c = at(i);
    if (c === 0x1b) {
      const next = at(i + 1);
      if (next === 0x5b) i = csiEnd(i + 2); // ESC [
      else if (next === 0x5d || next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) i = stringEnd(i + 2, i + 2); // ESC ] P X ^ _
      else {
        // ESC, intermediates, one final byte (ESC c, ESC ( B, ESC 7, ...)
        let j = i + 1;
        while (at(j) >= 0x20 && at(j) <= 0x2f) j++;
        i = at(j) >= 0x30 && at(j) <= 0x7e ? j + 1 : j;
      }
    } else if (c === 0x9b) i = csiEnd(i + 1);
    else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) i = stringEnd(i + 1, i + 1);
    else if ((c < 0x20 && c !== 0x0a && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) i++;
    else {
      out += s[i];
      i++;
    }
  }
  return out;
}

export function truncate(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 3)}...`;
}

const MESSAGE_WIDTH = 60;

/**
 * One row of `list`, from the object as the API returned it. Tolerant on purpose: the list must still show an
 * object the schema would reject (e.g. written by a newer controller), so nothing here assumes a field exists.
 */
export function rolloutRow(raw: unknown, now: Date): string[] {
  const o = (raw ?? {}) as {
    metadata?: { name?: string; creationTimestamp?: string };
    spec?: { target?: { gardenlet?: { version?: string }; extension?: { controllerDeployment?: string; version?: string } }; waves?: { name?: string }[] };
    status?: { phase?: string; waveProgress?: string; currentWave?: number; healthyRatio?: number; sampleSize?: number; message?: string };
  };
  const t = o.spec?.target;
  const target = t?.gardenlet ? `gardenlet ${t.gardenlet.version ?? '?'}` : t?.extension ? `${t.extension.controllerDeployment ?? '?'} ${t.extension.version ?? '?'}` : '-';
  const st = o.status ?? {};
  const phase = st.phase ?? 'Pending';
  const waves = o.spec?.waves ?? [];
  const current = st.currentWave !== undefined && !FINAL_PHASES.has(phase) ? waves[st.currentWave]?.name : undefined;
  const wave = `${st.waveProgress ?? `0/${waves.length}`}${current ? ` ${current}` : ''}`;
  return [
    o.metadata?.name ?? '<unnamed>',
    phase,
    target,
    wave,
    st.healthyRatio !== undefined ? `${(st.healthyRatio * 100).toFixed(1)}%` : '-',
    st.sampleSize !== undefined ? String(st.sampleSize) : '-',
    age(o.metadata?.creationTimestamp, now),
    st.message ? truncate(st.message, MESSAGE_WIDTH) : '',
  ];
}

/** Columns padded to their widest cell, three spaces apart, like kubectl get. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd());
}

export const LIST_HEADER = ['NAME', 'PHASE', 'TARGET', 'WAVE', 'HEALTHY', 'SAMPLE', 'AGE', 'MESSAGE'] as const;

/** The `list` table, rollouts sorted by name. */
export function formatList(items: readonly unknown[], now: Date): string[] {
  const rows = items.map((i) => rolloutRow(i, now)).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return table(LIST_HEADER, rows);
}

const SEEDS_SHOWN = 10;

/** The `plan` preview: one line per wave (what it exposes, production shoots among it), its seeds, then unplanned seeds and the planner's notes. */
export function formatPlan(name: string, spec: { target: CanaryRollout['spec']['target'] }, result: PlanResult, inScope: number): string[] {
  const { plan, notes } = result;
  const t = spec.target.gardenlet ? `gardenlet ${spec.target.gardenlet.version}` : `extension ${spec.target.extension!.controllerDeployment} ${spec.target.extension!.version}`;
  const out = [
    `Plan for ${name} (${t}), computed against the live landscape; nothing was created.`,
    `${plan.seeds} of ${inScope} in-scope seeds and ${plan.shoots} shoots in ${plan.waves.length} waves.`,
    '',
  ];
  out.push(
    ...table(
      ['WAVE', 'SEEDS', 'SHOOTS', 'PRODUCTION', 'BY PURPOSE'],
      plan.waves.map((w) => [
        w.name,
        String(w.seeds.length),
        String(w.shoots),
        String(w.productionShoots ?? productionShoots(w.shootsByPurpose)),
        Object.entries(w.shootsByPurpose ?? {})
          .map(([p, n]) => `${p} ${n}`)
          .join(', ') || '-',
      ]),
    ),
  );
  out.push('');
  for (const w of plan.waves) {
    const names = w.seeds.map((s) => (s.managedBy ? `${s.name} (managed, follows ${s.managedBy})` : s.name));
    const more = names.length > SEEDS_SHOWN ? `, ... (${names.length} in all)` : '';
    out.push(`${w.name}: ${names.length ? names.slice(0, SEEDS_SHOWN).join(', ') + more : 'no seeds'}`);
    const confined = w.shootsConfinedToMaintenance ?? 0;
    if (confined) out.push(`  ${confined} shoots confine updates to their maintenance window: not force-reconciled, they run the new version in their window`);
  }
  const unplanned = plan.unplannedSeeds ?? [];
  if (unplanned.length) {
    out.push('', `Unplanned (in scope, in no wave, never touched): ${unplanned.slice(0, SEEDS_SHOWN).join(', ')}${unplanned.length > SEEDS_SHOWN ? `, ... (${unplanned.length} in all)` : ''}`);
  }
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `  - ${n}`));
  return out;
}

/** zod issues as `path: message` lines, with paths the way the API server prints them (spec.waves[1].percent). */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `  ${i.path.length ? formatPath(i.path) : '(root)'}: ${i.message}`);
}

/**
 * The object as YAML or JSON. Both keep every character of the data but put none a terminal acts on: js-yaml writes
 * non-printable characters as escapes in double quotes, JSON.stringify escapes C0 but not DEL and C1, so those are
 * escaped here (inside strings, the only place JSON.stringify puts them; the same JSON value).
 */
export function serialize(obj: unknown, format: OutputFormat): string {
  if (format === 'yaml') return yaml.dump(obj, { noRefs: true, lineWidth: -1 });
  return `${JSON.stringify(obj, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`;
}

/** The merge patch of an operation: `null` removes a reason left from an earlier operation. */
export function operationPatch(operation: Operation, reason: string | undefined): object {
  return { metadata: { annotations: { [ANNOTATION_OPERATION]: operation, [ANNOTATION_REASON]: reason ?? null } } };
}

// ---------------------------------------------------------------------------------------------------------
// Errors (pure mapping from what the client throws to what an operator should read)

/** An error whose message is already what the user should see. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Worth retrying while watching: the server was unreachable or overloaded, not wrong. */
    readonly transient = false,
  ) {
    super(message);
  }
}

export interface ErrorContext {
  /** The API server URL, for connection errors. */
  server: string;
  /** The resource the failed call was about. */
  resource: ResourceType;
  /** Set for a GET of one named object. */
  name?: string;
}

/** Rejected when an API call takes longer than --request-timeout. */
export class TimeoutError extends Error {}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ESOCKETTIMEDOUT']);

function errnoCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The API's Status object of a failed call, if it sent one (a missing API group answers with plain text). */
function statusBody(err: unknown): { reason?: string; details?: { name?: string; kind?: string } } | undefined {
  const body = apiErrorBody(err);
  return body && typeof body === 'object' && (body as { kind?: unknown }).kind === 'Status' ? (body as never) : undefined;
}

export function crdMissingMessage(resource: ResourceType): string {
  return resource === RESOURCES.canaryRollouts
    ? 'the CanaryRollout CRD is not installed in this cluster: kubectl apply -f crds/ (or -k deploy/)'
    : `this API server does not serve ${resource.plural}.${resource.group}/${resource.version}: is it a Gardener garden cluster?`;
}

/** Connection failures, timeouts, overload and server errors: a watch waits them out. */
export function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  if (code !== undefined) return code === 429 || code >= 500;
  const errno = errnoCode(err);
  return err instanceof TimeoutError || (errno !== undefined && UNREACHABLE.has(errno));
}

export function describeError(err: unknown, ctx: ErrorContext): string {
  if (err instanceof CliError) return err.message;
  const code = statusCode(err);
  if (code !== undefined) {
    const msg = errorMessage(err);
    if (code === 404) {
      // A GET of a missing object names it in the Status details; a missing resource type does not.
      const details = statusBody(err)?.details;
      if (ctx.name !== undefined && details?.name === ctx.name) return `${ctx.resource.kind.toLowerCase()} "${ctx.name}" not found`;
      return crdMissingMessage(ctx.resource);
    }
    if (code === 403) return `not allowed: ${msg}`;
    if (code === 401) return `not authenticated (are the kubeconfig's credentials valid?): ${msg}`;
    return `the API server refused the request (HTTP ${code}): ${msg}`;
  }
  const errno = errnoCode(err);
  const text = err instanceof Error ? err.message : String(err);
  if ((errno && (UNREACHABLE.has(errno) || errno.startsWith('ERR_TLS') || errno.includes('CERT'))) || err instanceof TimeoutError) {
    // node-fetch says "request to <url> failed, reason: <why>": the why is what matters
    const reason = /reason: (.*)$/s.exec(text)?.[1] ?? text;
    return `cannot reach the API server at ${ctx.server}: ${reason}`;
  }
  return text;
}


// ---------------------------------------------------------------------------------------------------------
// I/O

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface RunIO {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  /** Aborted on Ctrl-C: a watch ends cleanly. */
  signal?: AbortSignal;
  /** Watch polling interval (tests shorten it). */
  pollMs?: number;
}

/**
 * The kubeconfig the way kubectl picks it: --kubeconfig, else the files in $KUBECONFIG (merged, the first to
 * define a name or the current context wins), else ~/.kube/config, else the pod's service account. Reads the
 * given env, not process.env, so in-process callers control it.
 */
export function loadConfig(inv: Pick<Invocation, 'kubeconfig' | 'context'>, env: RunIO['env']): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  const files = inv.kubeconfig ? [inv.kubeconfig] : (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (files.length === 0 && existsSync(home)) files.push(home);
  const load = (target: k8s.KubeConfig, file: string) => {
    if (!existsSync(file)) throw new CliError(`kubeconfig ${file} does not exist`);
    try {
      target.loadFromFile(file);
    } catch (err) {
      throw new CliError(`cannot read kubeconfig ${file}: ${errorMessage(err)}`);
    }
  };
  if (files.length === 0) {
    if (!env.KUBERNETES_SERVICE_HOST) throw new CliError('no kubeconfig: set KUBECONFIG or pass --kubeconfig PATH');
    kc.loadFromCluster();
  } else {
    load(kc, files[0]!);
    for (const f of files.slice(1)) {
      const more = new k8s.KubeConfig();
      load(more, f);
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
      if (!kc.currentContext && more.currentContext) kc.setCurrentContext(more.currentContext);
    }
  }
  if (inv.context !== undefined) {
    if (!kc.getContextObject(inv.context)) throw new CliError(`context "${inv.context}" is not in the kubeconfig (contexts: ${kc.contexts.map((c) => c.name).join(', ') || 'none'})`);
    kc.setCurrentContext(inv.context);
  }
  if (!kc.getCurrentCluster()) throw new CliError('the kubeconfig has no current context with a cluster: pass --context NAME');
  return kc;
}

/** One API session: the client, and a wrapper that bounds every call and turns failures into CliErrors. */
class Session {
  readonly client: KubeClient;
  readonly server: string;

  constructor(
    readonly kubeConfig: PooledKubeConfig,
    private readonly timeoutMs: number,
  ) {
    this.client = new KubeClient(kubeConfig, 'kubectl-canary');
    this.server = kubeConfig.getCurrentCluster()?.server ?? '<unknown>';
  }

  async call<T>(ctx: Omit<ErrorContext, 'server'>, fn: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // client-node sets no timeout: a black-holed server would hang the command forever
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${this.timeoutMs / 1000}s`)), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      throw err instanceof CliError ? err : new CliError(describeError(err, { ...ctx, server: this.server }), isTransient(err));
    } finally {
      clearTimeout(timer);
    }
  }

  listRaw(rt: ResourceType): Promise<unknown[]> {
    return this.call({ resource: rt }, async () => {
      const items: unknown[] = [];
      let cont: string | undefined;
      do {
        const page = (await this.client.objects.listClusterCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, limit: 500, _continue: cont })) as {
          items: unknown[];
          metadata?: { continue?: string };
        };
        items.push(...page.items);
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return items;
    });
  }

  getRollout(name: string): Promise<unknown> {
    const rt = RESOURCES.canaryRollouts;
    return this.call({ resource: rt, name }, () => this.client.objects.getClusterCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, name }));
  }

  close(): void {
    this.kubeConfig.close();
  }
}

/** Lines for the terminal, each made printable (they carry names, messages and history from the API). */
const lines = (ls: readonly string[]) => `${ls.map(printable).join('\n')}\n`;

function parseRollout(raw: unknown, name: string): CanaryRollout {
  const r = CanaryRollout.safeParse(raw);
  if (!r.success) throw new CliError(`canaryrollout "${name}" does not match the v1alpha1 schema this plugin knows:\n${formatIssues(r.error.issues).join('\n')}`);
  return r.data;
}

async function list(s: Session, cmd: Extract<Command, { kind: 'list' }>, io: RunIO): Promise<number> {
  const items = await s.listRaw(RESOURCES.canaryRollouts);
  if (cmd.output) {
    io.stdout.write(serialize({ apiVersion: 'v1', kind: 'List', items }, cmd.output));
  } else if (items.length === 0) {
    io.stderr.write('No CanaryRollouts found.\n');
  } else {
    io.stdout.write(lines(formatList(items, new Date())));
  }
  return 0;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

async function status(s: Session, cmd: Extract<Command, { kind: 'status' }>, io: RunIO): Promise<number> {
  const tty = io.stdout.isTTY === true;
  let lastVersion: string | undefined;
  let lastFrame: string | undefined;
  let lastError: string | undefined;
  for (let first = true; ; first = false) {
    if (io.signal?.aborted) return 0;
    let raw: unknown;
    try {
      raw = await s.getRollout(cmd.name);
    } catch (err) {
      // while watching, a blip of the API server is waited out (said once); a deleted rollout ends the watch
      if (first || !cmd.watch || !(err instanceof CliError && err.transient)) throw err;
      const msg = err.message;
      if (msg !== lastError) io.stderr.write(`${printable(msg)} (retrying)\n`);
      lastError = msg;
      await sleep(io.pollMs ?? 2000, io.signal);
      continue;
    }
    lastError = undefined;
    const rollout = parseRollout(raw, cmd.name);
    if (cmd.output) {
      // watching with -o prints each new version of the object, like kubectl get -w -o yaml
      if (rollout.metadata.resourceVersion !== lastVersion) io.stdout.write(`${first || cmd.output === 'json' ? '' : '---\n'}${serialize(raw, cmd.output)}`);
    } else {
      const frame = lines(renderStatus(rollout, new Date()));
      // on a terminal every poll redraws (bake countdowns move); in a log only a changed object is a new frame
      const changed = tty ? frame !== lastFrame : rollout.metadata.resourceVersion !== lastVersion;
      if (changed) io.stdout.write(tty && cmd.watch ? `\x1b[H\x1b[2J${frame}` : first ? frame : `\n${frame}`);
      lastFrame = frame;
    }
    lastVersion = rollout.metadata.resourceVersion;
    if (!cmd.watch || FINAL_PHASES.has(rollout.status?.phase ?? '')) return 0;
    await sleep(io.pollMs ?? 2000, io.signal);
  }
}

/** Reads FILE and validates the one CanaryRollout in it the way the controller would. */
export function readRolloutFile(file: string, text: string): CanaryRollout {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
  } catch (err) {
    throw new CliError(`${file} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (docs.length !== 1) throw new CliError(`${file} must hold exactly one CanaryRollout, found ${docs.length} documents`);
  const r = CanaryRollout.safeParse(docs[0]);
  if (!r.success) throw new CliError(`${file} is not a valid CanaryRollout:\n${formatIssues(r.error.issues).join('\n')}`);
  return r.data;
}

async function plan(s: Session, cmd: Extract<Command, { kind: 'plan' }>, io: RunIO): Promise<number> {
  let text: string;
  try {
    text = readFileSync(cmd.file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${cmd.file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const rollout = readRolloutFile(cmd.file, text);
  // Reads only: Seeds, ManagedSeeds and Shoots of all namespaces, kept as trimmed as the controller keeps them.
  const [seeds, managedSeeds, shoots] = await Promise.all([
    s.listRaw(RESOURCES.seeds).then((xs) => xs.map(parseSeed)),
    s.listRaw(RESOURCES.managedSeeds).then((xs) => xs.map(parseManagedSeed)),
    s.listRaw(RESOURCES.shoots).then((xs) => xs.map(trimShoot)),
  ]);
  const defined = <T>(xs: (T | undefined)[]) => xs.filter((x): x is T => x !== undefined);
  const obs = observe(defined(seeds), defined(managedSeeds), defined(shoots));
  const result = planRollout(rollout.spec, obs.seeds, obs.shoots, new Date());
  if (cmd.output) {
    io.stdout.write(serialize(result, cmd.output));
  } else {
    const inScope = result.plan.seeds + (result.plan.unplannedSeeds?.length ?? 0);
    io.stdout.write(lines(formatPlan(rollout.metadata.name, rollout.spec, result, inScope)));
  }
  return 0;
}

async function operate(s: Session, cmd: Extract<Command, { kind: 'operation' }>, io: RunIO): Promise<number> {
  const raw = (await s.getRollout(cmd.name)) as { metadata?: { annotations?: Record<string, string> } };
  const pending = raw.metadata?.annotations?.[ANNOTATION_OPERATION];
  // the controller consumes one operation at a time: an unconsumed one is replaced, say so
  if (pending && pending !== cmd.operation) io.stderr.write(`note: replacing the pending operation "${printable(pending)}" that the controller has not consumed yet\n`);
  const rt = RESOURCES.canaryRollouts;
  await s.call({ resource: rt, name: cmd.name }, () => s.client.patch(rt, cmd.name, operationPatch(cmd.operation, cmd.reason)));
  io.stdout.write(`canaryrollout ${cmd.name}: ${cmd.operation} requested\n`);
  return 0;
}

/** Runs one invocation; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function run(argv: readonly string[], io: RunIO): Promise<number> {
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    io.stderr.write(`error: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const { command } = parsed.invocation;
  if (command.kind === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  let session: Session | undefined;
  try {
    session = new Session(loadConfig(parsed.invocation, io.env), parsed.invocation.requestTimeoutMs);
    switch (command.kind) {
      case 'list':
        return await list(session, command, io);
      case 'status':
        return await status(session, command, io);
      case 'plan':
        return await plan(session, command, io);
      case 'operation':
        return await operate(session, command, io);
      default:
        return command satisfies never;
    }
  } catch (err) {
    // API messages (a denial quotes the request, a schema error the object) and names from the kubeconfig
    io.stderr.write(`error: ${printable(err instanceof CliError ? err.message : describeError(err, { server: session?.server ?? '<unknown>', resource: RESOURCES.canaryRollouts }))}\n`);
    return 1;
  } finally {
    session?.close();
  }
}

/** Entry point of bin/kubectl-canary: process streams, Ctrl-C ends a watch with exit code 0. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const ctrl = new AbortController();
  const onInt = () => ctrl.abort();
  process.once('SIGINT', onInt);
  try {
    return await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ctrl.signal });
  } finally {
    process.off('SIGINT', onInt);
  }
}
