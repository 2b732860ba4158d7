// gardenenv must stop everything it started: on SIGTERM, on SIGINT, and when its parent dies (stdin EOF).
// Each case starts its own garden next to the shared one and inspects the process table afterwards.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ensureGardenBinaries } from '../garden/build.mjs';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  } catch {
    return '';
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

async function startGardenenv(): Promise<{ child: ChildProcessWithoutNullStreams; pids: number[]; kubeconfig: string }> {
  const binDir = process.env.TEST_GARDEN_BIN_DIR ?? (await ensureGardenBinaries());
  const dir = mkdtempSync(join(tmpdir(), 'garden-lifecycle-'));
  dirs.push(dir);
  const kubeconfig = join(dir, 'kubeconfig');
  const child = spawn(join(binDir, 'gardenenv'), ['--kubeconfig', kubeconfig, '--pidfile', join(dir, 'pids'), '--exit-on-stdin-close'], {
    env: { ...process.env, KUBEBUILDER_ASSETS: binDir },
  });
  child.stderr.resume();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gardenenv exited early with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => line.startsWith('ready ') && resolve());
  });
  const pids = readFileSync(join(dir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number);
  return { child, pids, kubeconfig };
}

describe('gardenenv shuts down without orphans', () => {
  it.each([
    ['SIGTERM', (c: ChildProcessWithoutNullStreams) => c.kill('SIGTERM')],
    ['SIGINT', (c: ChildProcessWithoutNullStreams) => c.kill('SIGINT')],
    ['parent death (stdin closed)', (c: ChildProcessWithoutNullStreams) => c.stdin.end()],
  ])('on %s', async (_name, stop) => {
    const { child, pids, kubeconfig } = await startGardenenv();
    const [self, ...children] = pids;
    expect(self).toBe(child.pid);
    // envtest runs etcd and kube-apiserver as children of gardenenv
    expect(children.map((p) => commandOf(p).split('/').pop()).sort()).toEqual(['etcd', 'kube-apiserver']);
    expect(existsSync(kubeconfig)).toBe(true);

    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    stop(child);
    expect(await exited).toBe(0);
    expect(await waitFor(() => children.every((p) => !alive(p)), 10_000)).toBe(true);
    expect(existsSync(kubeconfig)).toBe(false);
  });
});
