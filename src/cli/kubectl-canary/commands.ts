// kubectl canary's commands: list, status (and its watch), plan and the operations, each against a Session and
// writing to the given streams.
import { readFileSync } from 'node:fs';
import * as yaml from 'js-yaml';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, CanaryRollout, FINAL_PHASES, type Operation } from '../../api/v1alpha1.js';
import { observe } from '../../engine/evaluate.js';
import { planRollout } from '../../engine/planner.js';
import * as z from 'zod';
import { ObjectMeta } from '../../gardener/api.js';
import { parseManagedSeed, parseSeed, trimShoot } from '../../gardener/trim.js';
import { RESOURCES } from '../../kube/client.js';
import { renderStatus } from '../render.js';
import type { Command } from './args.js';
import { CliError } from './errors.js';
import { formatIssues, formatList, formatPlan, printable, serialize } from './format.js';
import type { Env, Session } from './session.js';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface RunIO {
  stdout: Output;
  stderr: Output;
  env: Env;
  /** Aborted on Ctrl-C: a watch ends cleanly. */
  signal?: AbortSignal;
  /** Watch polling interval (tests shorten it). */
  pollMs?: number;
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

const Annotated = z.object({ metadata: ObjectMeta });

async function operate(s: Session, cmd: Extract<Command, { kind: 'operation' }>, io: RunIO): Promise<number> {
  // read loosely: an operation (abort, say) must also work on a rollout this plugin's schema would reject
  const pending = Annotated.safeParse(await s.getRollout(cmd.name)).data?.metadata.annotations?.[ANNOTATION_OPERATION];
  // the controller consumes one operation at a time: an unconsumed one is replaced, say so
  if (pending && pending !== cmd.operation) io.stderr.write(`note: replacing the pending operation "${printable(pending)}" that the controller has not consumed yet\n`);
  const rt = RESOURCES.canaryRollouts;
  await s.call({ resource: rt, name: cmd.name }, () => s.client.patch(rt, cmd.name, operationPatch(cmd.operation, cmd.reason)));
  io.stdout.write(`canaryrollout ${cmd.name}: ${cmd.operation} requested\n`);
  return 0;
}

/** The merge patch of an operation: `null` removes a reason left from an earlier operation. */
export function operationPatch(operation: Operation, reason: string | undefined): object {
  return { metadata: { annotations: { [ANNOTATION_OPERATION]: operation, [ANNOTATION_REASON]: reason ?? null } } };
}

/** Runs one command (all but help) against the session; returns the exit code. */
export function runCommand(s: Session, command: Exclude<Command, { kind: 'help' }>, io: RunIO): Promise<number> {
  switch (command.kind) {
    case 'list':
      return list(s, command, io);
    case 'status':
      return status(s, command, io);
    case 'plan':
      return plan(s, command, io);
    case 'operation':
      return operate(s, command, io);
    default:
      return command satisfies never;
  }
}
