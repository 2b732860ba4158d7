// End to end: operator operations by annotation, and a kill -9 of the controller in the middle of a wave.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, CanaryRollout, type Operation } from '../../src/api/v1alpha1.js';
import { operationPatch } from '../../src/cli/kubectl-canary/commands.js';
import { nextSteps } from '../../src/cli/render.js';
import { Gardenlet } from '../../src/gardener/api.js';
import { RESOURCES } from '../../src/kube/client.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { gardenletChartRef } from '../../src/sim/landscape-objects.js';
import { LABEL_LANDSCAPE } from '../../src/sim/landscape-plan.js';
import type { LiveSimulator } from '../../src/sim/live.js';
import { deleteRollouts, gardenletRollout, liveLandscape, smallLandscape } from '../../src/sim/scenario.js';
import { startController, type ControllerProcess } from '../support/controller.js';
import { NotYet, waitFor } from '../support/eventually.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('o');
const selector = `${LABEL_LANDSCAPE}=${prefix}`;
let controller: ControllerProcess | undefined;
let sim: LiveSimulator;

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  sim = await liveLandscape(client, smallLandscape(prefix));
  controller = await startController(selector);
}, 180_000);

afterAll(async () => {
  await deleteRollouts(client, ['ops', 'crash', 'retry'].map((n) => `${prefix}-${n}`)).catch(() => undefined);
  await controller?.stop();
  await sim?.stop();
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
});

function rollout(name: string, version: string, canaryBake: string, waves?: object[]) {
  return gardenletRollout(name, prefix, version, {
    waves: (waves as never) ?? [
      { name: 'canary', seedNames: [`${prefix}-aws-eu-1-0`], bake: canaryBake, healthGate: { minSampleSize: 3 } },
      { name: 'rest', percent: 100 },
    ],
    healthGate: { minSampleSize: 3 },
    bake: '2s',
    progressDeadline: '10m',
  });
}

const get = (name: string) => client.get(RESOURCES.canaryRollouts, CanaryRollout, name);

/** Polls the rollout until `pred` holds; on timeout the error gives its last phase and message. */
function until(name: string, what: string, pred: (r: CanaryRollout) => boolean, timeoutMs = 90_000): Promise<CanaryRollout> {
  return waitFor(
    what,
    async () => {
      const r = await get(name);
      if (pred(r)) return r;
      throw new NotYet(`phase ${r.status?.phase}, ${r.status?.message}`);
    },
    timeoutMs,
    { pollMs: 300, logs: controller?.logs },
  );
}

async function operate(name: string, op: Operation, reason: string): Promise<void> {
  await client.patch(RESOURCES.canaryRollouts, name, operationPatch(op, reason));
}

describe('operations by annotation', () => {
  it('pause, resume, promote and abort, each consumed and recorded with its reason and actor', async () => {
    const name = `${prefix}-ops`;
    await client.create(RESOURCES.canaryRollouts, rollout(name, 'v1.150.0', '1h'));
    await until(name, 'canary baking', (r) => r.status?.waves?.[0]?.phase === 'Baking');

    await operate(name, 'pause', 'change freeze');
    let r = await until(name, 'Paused', (x) => x.status?.phase === 'Paused' && !x.metadata.annotations?.[ANNOTATION_OPERATION]);
    expect(r.metadata.annotations?.[ANNOTATION_OPERATION]).toBeUndefined();
    expect(r.status!.history!.at(-1)).toMatchObject({ kind: 'Operation', event: 'pause', message: 'change freeze', actor: 'canary-rollout' });

    await operate(name, 'resume', 'freeze over');
    r = await until(name, 'Progressing', (x) => x.status?.phase === 'Progressing' && !x.metadata.annotations?.[ANNOTATION_OPERATION]);
    expect(r.status!.waves![0]!.phase).toBe('Baking'); // back where it was: the 1h bake is still running

    await operate(name, 'promote', 'canary looks good');
    r = await until(name, 'canary done', (x) => x.status?.waves?.[0]?.phase === 'Succeeded');
    expect(Date.parse(r.status!.waves![0]!.finishedAt!) - Date.parse(r.status!.waves![0]!.exposedAt!)).toBeLessThan(60 * 60_000);

    await operate(name, 'abort', 'enough for today');
    // the status is persisted first, the annotation consumed right after: wait for both
    r = await until(name, 'Aborted', (x) => x.status?.phase === 'Aborted' && !x.metadata.annotations?.[ANNOTATION_OPERATION]);
    const ops = r.status!.history!.filter((h) => h.kind === 'Operation').map((h) => `${h.event}:${h.message}`);
    expect(ops).toEqual(['pause:change freeze', 'resume:freeze over', 'promote:canary looks good', 'abort:enough for today']);
    expect(r.metadata.annotations?.[ANNOTATION_REASON]).toBeUndefined();
    // the end is explicit: a gardenlet rollout aborted under Freeze (no halt) keeps no stop and takes its marks away, and
    // says so; the waves it started say how they ended, the others that they never ran; no next step is offered
    expect(r.status!.message).toBe('aborted, versions left as they were; nothing of this rollout is left in the garden');
    expect(r.status!.conditions!.find((c) => c.type === 'Holding')).toMatchObject({ status: 'False', reason: 'HoldsNothing' });
    expect(r.status!.waves!.map((w) => w.phase)).toEqual(['Succeeded', ...r.status!.waves!.slice(1).map((w) => (w.startedAt ? 'Aborted' : 'Cancelled'))]);
    expect(nextSteps(r)).toEqual([]);
  }, 150_000);

  it('survives kill -9 in the middle of a wave: converges, patches no seed twice, loses no history', async () => {
    await client.delete(RESOURCES.canaryRollouts, `${prefix}-ops`);
    const name = `${prefix}-crash`;
    const gardenlets = async () =>
      new Map((await client.list(RESOURCES.gardenlets, Gardenlet, { namespace: 'garden', labelSelector: selector })).map((g) => [g.metadata.name, g]));
    const before = await gardenlets();
    await client.create(
      RESOURCES.canaryRollouts,
      rollout(name, 'v1.151.0', '2s', [
        { name: 'canary', seedNames: [`${prefix}-aws-eu-1-0`], healthGate: { minSampleSize: 3 } },
        { name: 'rest', percent: 100, maxConcurrentSeeds: 1 },
      ]),
    );
    const mid = await until(name, 'rest wave promoting', (r) => r.status?.currentWave === 1 && (r.status.waves?.[1]?.seedsPromoted ?? 0) >= 1);
    await controller!.stop('SIGKILL');
    controller = await startController(selector);
    const done = await until(name, 'Succeeded', (r) => r.status?.phase === 'Succeeded', 150_000);

    const after = await gardenlets();
    for (const [seed, g] of after) {
      expect(g.spec.deployment?.helm?.ociRepository.ref).toBe(gardenletChartRef('v1.151.0'));
      // one chart change per seed: the generation moved by exactly one
      expect([seed, (g.metadata.generation ?? 0) - (before.get(seed)!.metadata.generation ?? 0)]).toEqual([seed, 1]);
    }
    // everything recorded before the crash is still there, in order
    const keys = (r: CanaryRollout) => r.status!.history!.map((h) => `${h.time} ${h.event}`);
    expect(keys(done).slice(0, keys(mid).length)).toEqual(keys(mid));
  }, 240_000);

  it('retry brings a rollout that failed its progress deadline back to Progressing with a new deadline', async () => {
    const name = `${prefix}-retry`;
    await client.create(RESOURCES.canaryRollouts, {
      // a version gardenlet accepts against the simulated landscape's gardener-apiserver (v1.151.0; preflight.ts)
      ...gardenletRollout(name, prefix, 'v1.150.1', {
        waves: [{ name: 'canary', seedNames: [`${prefix}-gcp-us-1-0`], healthGate: { minSampleSize: 1000 } }],
        progressDeadline: '5s',
        onProgressDeadline: 'Fail',
      }),
    });
    const failed = await until(name, 'Failed', (x) => x.status?.phase === 'Failed');
    expect(failed.status!.message).toMatch(/missed its progress deadline/);
    const deadline = failed.status!.waves![0]!.deadline!;
    await operate(name, 'retry', 'sample size was a typo, fixing it next');
    const back = await until(name, 'Progressing again', (x) => x.status?.phase === 'Progressing' && !x.metadata.annotations?.[ANNOTATION_OPERATION]);
    expect(Date.parse(back.status!.waves![0]!.deadline!)).toBeGreaterThan(Date.parse(deadline));
    expect(back.status!.history!.at(-1)).toMatchObject({ kind: 'Operation', event: 'retry' });
    await client.delete(RESOURCES.canaryRollouts, name);
  }, 120_000);
});
