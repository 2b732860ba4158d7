// gardenenv must stop everything it started: on SIGTERM, on SIGINT, when its parent dies (stdin EOF), and
// when it or its launcher is killed with SIGKILL (nothing runs then but the kernel's parent-death signals).
// Each case starts its own garden next to the shared one and inspects the process table afterwards.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ensureGardenBinaries } from '../garden/build.mjs';
import { eventually } from '../support/eventually.js';

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

/** PIDs whose parent is ppid, from /proc/<pid>/stat. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // fields after the parenthesised command: state ppid ...
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(ppid)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Alive and not a zombie (a killed child of ours stays a zombie until reaped, which says nothing of the garden). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Waits up to 10 s for none of `pids` to be `up`; on timeout the error names the ones still up. */
const gone = (what: string, pids: number[], up: (pid: number) => boolean) => eventually(what, () => expect(pids.filter(up)).toEqual([]), 10_000, { pollMs: 100 });

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
    await gone('etcd and kube-apiserver to exit', children, alive);
    expect(existsSync(kubeconfig)).toBe(false);
  });
});

describe('SIGKILL leaves no control plane behind', () => {
  const basename = (pid: number) => commandOf(pid).split('/').pop();

  it('of gardenenv: etcd and kube-apiserver are gone within 10 s', async () => {
    const { child, pids } = await startGardenenv();
    const children = pids.slice(1);
    expect(children.map(basename).sort()).toEqual(['etcd', 'kube-apiserver']);

    const killed = Date.now();
    child.kill('SIGKILL');
    await gone('etcd and kube-apiserver to exit', children, running);
    process.stderr.write(`[garden-lifecycle] SIGKILL of gardenenv: children gone after ${Date.now() - killed} ms\n`);
  });

  it('of the launcher (garden.mjs): gardenenv, etcd and kube-apiserver are gone within 10 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'garden-lifecycle-launcher-'));
    dirs.push(dir);
    const kubeconfig = join(dir, 'kubeconfig');
    const launcher = spawn(process.execPath, ['test/garden/garden.mjs', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stderr.resume();
    await new Promise<void>((resolve, reject) => {
      launcher.once('exit', (code) => reject(new Error(`launcher exited early with ${code}`)));
      createInterface({ input: launcher.stdout }).on('line', (line) => line.startsWith('garden ready') && resolve());
    });
    const [gardenenv, ...more] = childrenOf(launcher.pid!);
    expect(more).toEqual([]);
    expect(basename(gardenenv!)).toBe('gardenenv');
    const controlPlane = childrenOf(gardenenv!);
    expect(controlPlane.map(basename).sort()).toEqual(['etcd', 'kube-apiserver']);

    const killed = Date.now();
    launcher.kill('SIGKILL');
    const all = [gardenenv!, ...controlPlane];
    await gone('gardenenv, etcd and kube-apiserver to exit', all, running);
    process.stderr.write(`[garden-lifecycle] SIGKILL of the launcher: gardenenv, etcd, kube-apiserver gone after ${Date.now() - killed} ms\n`);
    // gardenenv stopped cleanly (parent-death SIGTERM / stdin EOF), so it removed the kubeconfig
    await eventually('the kubeconfig removed', () => expect(existsSync(kubeconfig)).toBe(false), 10_000, { pollMs: 100 });
  });
});
