// Runs the controller (dist/bundle/main.js, what the image runs, or another entry such as the crash controller) as its own process against
// the test garden.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import type { KubeClient } from '../../src/kube/client.js';
import { gardenKubeconfig } from './garden.js';

/** The controller as `npm run bundle` builds it and the image runs it (the jest global setup bundles it). */
export const MAIN_ENTRY = 'dist/bundle/main.js';
/** What `npm start` runs: it loads MAIN_ENTRY, or the demo's bundle (`--demo`, or no garden given). */
export const START_ENTRY = 'dist/bundle/start.js';
/** node's flags in the image (Dockerfile ENTRYPOINT) and `npm start`; a unit test keeps the three equal. */
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=8', '--expose-gc'];
/** test/support/crash-controller.ts as the jest global setup compiles it (tsconfig.test-entry.json). */
export const CRASH_ENTRY = 'dist/test/support/crash-controller.js';

/**
 * The controller laid out as the image lays it out (Dockerfile): the bundle and a package.json saying it is an ES
 * module, in a directory with no node_modules above it. Returns the entry to run; a dependency the bundle failed to
 * take in fails to load there, as it would in the image.
 */
export function imageEntry(): string {
  const root = mkdtempSync(join(tmpdir(), 'canary-image-'));
  const entry = join(root, MAIN_ENTRY);
  mkdirSync(dirname(entry), { recursive: true });
  copyFileSync(MAIN_ENTRY, entry);
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
  return entry;
}

export interface ControllerProcess {
  child: ChildProcess;
  logs: string[];
  port: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  /** Resolves when the process has exited and its output is read, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  /** Script to run (default MAIN_ENTRY). */
  entry?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The garden to run against (default the shared test garden), e.g. a fault proxy's kubeconfig. */
  kubeconfig?: string;
  /** --resync-seconds (default 60); null: the controller's own default, as in production. */
  resyncSeconds?: number | null;
  /** node's flags instead of the image's (a benchmark comparing them). */
  nodeFlags?: readonly string[];
}

/** The lease the controllers for `selector` campaign for: one per selector, so controllers of different tests never meet. */
export function leaseName(selector: string): string {
  return `canary-test-${selector.replace(/[^a-z0-9]/g, '-').slice(-40)}`;
}

/**
 * Frees the lease of `selector` (empties its holder, as a release does). Only for a holder known to be dead (its
 * process has exited): the next candidate takes over at once instead of after up to 15 s. Backdating renewTime
 * would not do: candidates measure expiry from when they see the record change, not from its timestamps.
 */
export async function freeLease(client: KubeClient, selector: string, namespace = 'garden'): Promise<void> {
  const api = client.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const name = leaseName(selector);
  const lease = await api.readNamespacedLease({ name, namespace });
  await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
}

/** Starts a controller for the rollouts matching `selector`; controllers of different tests use different leases. */
export async function startController(selector: string, extraArgs: string[] = [], waitForLeader = true, opts: StartOptions = {}): Promise<ControllerProcess> {
  const lease = leaseName(selector);
  const resync = opts.resyncSeconds === null ? [] : ['--resync-seconds', String(opts.resyncSeconds ?? 60)];
  const args = [opts.entry ?? MAIN_ENTRY, '--kubeconfig', opts.kubeconfig ?? gardenKubeconfig(), '--metrics-port', '0', '--rollout-selector', selector, ...resync, '--lease-name', lease, ...extraArgs];
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? IMAGE_NODE_FLAGS), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: '', ...opts.env },
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const logs: string[] = [];
  let port = 0;
  let leader = false;
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`controller exited early (${code}): ${logs.slice(-5).join('\n')}`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      logs.push(line);
      const m = /"msg":"controller running".*"metricsPort":(\d+)/.exec(line);
      if (m) port = Number(m[1]);
      if (line.includes('"msg":"became leader"')) leader = true;
      if (port && (!waitForLeader || leader)) resolve();
    });
  });
  child.stdout!.resume();
  await ready;
  return {
    child,
    logs,
    exited,
    port: () => port,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode); // already gone (a SIGKILLed child has only a signalCode)
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

/** A controller's requests by "verb resource" (canary_rollout_api_requests_by_verb_total), from its /metrics. */
export function requestsByVerb(metrics: string): Record<string, number> {
  return Object.fromEntries([...metrics.matchAll(/^canary_rollout_api_requests_by_verb_total\{verb="([^"]+)",resource="([^"]*)"\} (\d+)/gm)].map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
}
