// Faults of the test garden's own processes: freezing one (SIGSTOP: a hung process whose connections stay open)
// and compacting etcd. Only for a garden a test started itself (startGarden()), never the shared one.
//
// What etcd compaction does to watches here (kube-apiserver 1.36, envtest etcd 3.6; found by trying it):
// - kube-apiserver serves every watch of a resource with a watch cache from that cache, never from etcd, and the
//   cache does not care about compaction: after compactEtcd(), a watch of configmaps (or of any Gardener resource,
//   gardener-apiserver caches too) from a compacted resourceVersion still replays the events since then. kube-apiserver
//   hears of compactions only through its own compactor (every --etcd-compaction-interval, 5 min by default), and
//   even then it trims only the cache's list snapshots, not the watch history.
// - A cached resource's watch gets 410 only for a resourceVersion older than the cache's window: the window starts
//   where the cache was last (re)built (for built-in and Gardener resources: at apiserver start, e.g. a watch of
//   projects from RV 1 gets "too old resource version: 1 (204)") and moves on only when its event buffer is full of
//   events older than 75 s (so not within a test). For a CRD, any change of the CRD's spec (adding a category, say)
//   makes apiextensions-apiserver rebuild its storage: for a second or two requests get 429 "storage is
//   (re)initializing", then every resourceVersion from before the change gets 410.
// - Events (core/v1 and events.k8s.io) have no watch cache (kube-apiserver's default --watch-cache-sizes), so their
//   watches go to etcd: after compactEtcd(), a watch of events from an older resourceVersion gets an ERROR event
//   410 "The resourceVersion for the provided watch is too old.". compactEtcd() first writes a key of its own
//   (outside /registry), so the compacted revision is newer than every object's: compacting exactly at an object's
//   last revision would give a watch from the one before it an InternalError "etcd event received with
//   PrevKv=nil" instead of 410.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { NotYet, waitFor } from './eventually.js';

export interface GardenProcesses {
  gardenenv: number;
  etcd: number;
  kubeApiserver: number;
}

/** The command line of a process, one entry per argument. */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** Which of a garden handle's pids is which, by the binary each runs. */
export function gardenProcesses(handle: { pids: number[] }): GardenProcesses {
  const found: Partial<GardenProcesses> = {};
  for (const pid of handle.pids) {
    const bin = basename(cmdline(pid)[0] ?? '');
    if (bin === 'gardenenv') found.gardenenv = pid;
    else if (bin === 'etcd') found.etcd = pid;
    else if (bin === 'kube-apiserver') found.kubeApiserver = pid;
  }
  const { gardenenv, etcd, kubeApiserver } = found;
  if (!gardenenv || !etcd || !kubeApiserver) throw new Error(`garden pids ${handle.pids.join(',')}: found ${JSON.stringify(found)}`);
  return { gardenenv, etcd, kubeApiserver };
}

/** The process state letter of /proc/<pid>/stat: R, S, D, T (stopped), Z... */
export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

function inState(pid: number, want: (state: string) => boolean): true {
  const state = processState(pid);
  if (!want(state)) throw new NotYet(`state ${state}`);
  return true;
}

/** SIGSTOP: the process (all its threads) stops; its sockets stay open, so peers see a hung server. Resolves once stopped. */
export async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  await waitFor(`process ${pid} to stop`, () => inState(pid, (s) => s === 'T'), 5_000, { pollMs: 10 });
}

/** SIGCONT. Resolves once the process runs again. */
export async function thaw(pid: number): Promise<void> {
  process.kill(pid, 'SIGCONT');
  await waitFor(`process ${pid} to continue`, () => inState(pid, (s) => s !== 'T'), 5_000, { pollMs: 10 });
}

/** Runs fn with the process frozen, and thaws it whatever fn does. */
export async function withFrozen<T>(pid: number, fn: () => Promise<T>): Promise<T> {
  await freeze(pid);
  try {
    return await fn();
  } finally {
    await thaw(pid);
  }
}

/** etcd's client URL from its command line (envtest's etcd: plain http on 127.0.0.1, a random port). */
export function etcdClientUrl(etcdPid: number): string {
  const args = cmdline(etcdPid);
  for (const flag of ['--advertise-client-urls', '--listen-client-urls']) {
    const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) continue;
    const value = args[i] === flag ? args[i + 1] : args[i]!.slice(flag.length + 1);
    const url = value?.split(',')[0];
    if (url) return url.replace(/\/$/, '');
  }
  throw new Error(`etcd (pid ${etcdPid}) has no client URL flag: ${args.join(' ')}`);
}

async function etcdCall(url: string, api: string, body: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${api}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const out = (await res.json()) as Record<string, unknown>;
  if (!res.ok || 'error' in out || ('code' in out && out.code !== 0)) throw new Error(`etcd ${api}: HTTP ${res.status} ${JSON.stringify(out)}`);
  return out;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** etcd's current revision (the newest resourceVersion of the garden). */
export async function etcdRevision(url: string): Promise<number> {
  const out = await etcdCall(url, '/v3/kv/range', { key: b64('/'), limit: 1 });
  return Number((out.header as { revision: string }).revision);
}

/**
 * Compacts etcd's history up to its current revision (physically) and returns that revision: older revisions can no
 * longer be read or watched from etcd. It first writes a key of its own outside /registry, so the revision compacted
 * is newer than every object's. See the top of this file for what that does (and does not do) to watches.
 */
export async function compactEtcd(url: string): Promise<number> {
  const put = await etcdCall(url, '/v3/kv/put', { key: b64('/canary-fault-harness/compaction'), value: b64(String(Date.now())) });
  const revision = Number((put.header as { revision: string }).revision);
  await etcdCall(url, '/v3/kv/compaction', { revision, physical: true });
  return revision;
}
