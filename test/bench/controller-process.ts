// The controller as its own process, as the benchmarks run it (test/support/controller.ts: the bundle, with the
// image's node flags and the controller's default resync), and what they read of it: its memory from /proc, and its
// own counters from /metrics.
import { readFileSync } from 'node:fs';
import { requestsByVerb, startController } from '../support/controller.js';

export function procMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

export interface ControllerProcess {
  pid: number;
  port: number;
  /** What the controller logged when its caches synced (`caches synced`): sizes, seconds since process start, memory. */
  synced: Record<string, unknown>;
  stop: () => Promise<void>;
}

export async function startControllerProcess(kubeconfig: string, selector: string, extraArgs: string[] = []): Promise<ControllerProcess> {
  // BENCH_NODE_FLAGS: other node flags than the image's, to compare them in the same landscape
  const nodeFlags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean);
  const c = await startController(selector, extraArgs, false, { kubeconfig, resyncSeconds: null, ...(nodeFlags ? { nodeFlags } : {}) });
  const synced = c.logs.find((l) => l.includes('"msg":"caches synced"'));
  return { pid: c.child.pid!, port: c.port(), synced: synced ? (JSON.parse(synced) as Record<string, unknown>) : {}, stop: async () => void (await c.stop()) };
}

export interface Counters {
  /** Requests through API clients and watches opened. */
  requests: number;
  writes: number;
  reconciles: number;
  conflicts: number;
  /** Requests by "verb resource" (canary_rollout_api_requests_by_verb_total), watches as "watch *". */
  byVerb: Record<string, number>;
}

/** The controller's own counters: API requests (requests and watches opened), writes to the garden, reconciles by result. */
export async function counters(port: number): Promise<Counters> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const byVerb = requestsByVerb(text);
  byVerb['watch *'] = sum(/^canary_rollout_api_requests_total\{kind="watch"\} (\d+)/gm);
  return {
    requests: sum(/^canary_rollout_api_requests_total\{kind="(?:request|watch)"\} (\d+)/gm),
    writes: sum(/^canary_rollout_writes_total (\d+)/gm),
    reconciles: sum(/^canary_rollout_reconcile_duration_seconds_count\{[^}]*\} (\d+)/gm),
    conflicts: sum(/^canary_rollout_reconcile_duration_seconds_count\{result="conflict"\} (\d+)/gm),
    byVerb,
  };
}

/** What changed between two readings of the counters, by verb (only the verbs that moved). */
export function verbDelta(before: Counters, after: Counters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byVerb)) if (v - (before.byVerb[k] ?? 0) > 0) out[k] = v - (before.byVerb[k] ?? 0);
  return out;
}
