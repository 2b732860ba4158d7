// The demo, driven in a terminal: tmux runs `npm start`'s demo against the test garden, the test reads the halt
// off the screen, presses Ctrl-C and checks that everything stopped and the demo landscape is gone. Then the
// non-interactive `--until-done` run ends on its own with the final status.
import { execFileSync, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Seed } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import { START_ENTRY } from '../support/controller.js';
import { waitFor } from '../support/eventually.js';
import { gardenClient, gardenKubeconfig } from '../support/garden.js';

const client = gardenClient();
const session = `canary-demo-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', session);

afterAll(() => {
  try {
    tmux('kill-session', '-t', session);
  } catch {
    // already gone
  }
  client.kubeConfig.close();
});

const demoSeeds = async () => (await client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=demo` })).length;

describe('the demo', () => {
  it('shows the rollout live in a terminal until the health gate halts it, and Ctrl-C stops everything', async () => {
    tmux('new-session', '-d', '-s', session, '-x', '220', '-y', '60', `node ${START_ENTRY} --demo --garden-kubeconfig ${gardenKubeconfig()}; echo "DEMO EXITED $?"; sleep 600`);
    // the live view redraws the wave table while the rollout runs
    await waitFor('the live wave table', async () => (/WAVE\s+PHASE\s+SEEDS/.test(screen()) ? true : undefined), 120_000);
    const halted = await waitFor('HALTED on the screen', async () => {
      const s = screen();
      return s.includes('HALTED:') ? s : undefined;
    }, 180_000);
    expect(halted).toMatch(/HALTED: wave early: \d+ unhealthy of \d+ counted shoots exceeds the tolerated/);
    expect(halted).toMatch(/canary\s+Succeeded/);
    expect(halted).toMatch(/rest\s+Pending\s+0\/5/); // the last wave was never touched
    expect(halted).toContain('kubectl canary status demo-gardenlet-v1-150-9');
    expect(await demoSeeds()).toBe(12);

    tmux('send-keys', '-t', session, 'C-c');
    const exited = await waitFor('the demo to exit', async () => /DEMO EXITED (\d+)/.exec(screen())?.[1], 60_000);
    expect(exited).toBe('130');
    expect(await demoSeeds()).toBe(0); // a shared garden is left as the demo found it
    // no demo process left (the tmux server and its shell keep the command line, so match the node process itself)
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => /^\S*node dist\/bundle\/start\.js --demo/.test(l.trim()))).toEqual([]);
  }, 420_000);

  it('--until-done runs without a human: halt, abort with RevertAll, final status, exit 0', async () => {
    const child = spawn(process.execPath, [START_ENTRY, '--demo', '--until-done', '--garden-kubeconfig', gardenKubeconfig()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/HALTED: wave early/);
    expect(out).toMatch(/Phase:\s+RolledBack/);
    expect(out).toContain('demo: done, the rollout ended RolledBack');
    expect(code).toBe(0);
    expect(await demoSeeds()).toBe(0);
  }, 420_000);
});
