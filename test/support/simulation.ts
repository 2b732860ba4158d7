// Random landscapes, fault scripts and operators for the engine's simulation tests, and the invariants every
// step of a run must keep.
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import type { Ctx } from '../../src/engine/machine.js';
import { sameHelm, targetHelm } from '../../src/engine/extension.js';
import { matchesSelector } from '../../src/engine/selector.js';
import { rng, World } from '../../src/sim/world.js';
import { runSimulation, type Step } from './run-sim.js';

export interface Scenario {
  world: World;
  spec: CanaryRolloutSpec;
  vanishAt?: { step: number; seed: string };
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export function scenario(seed: number): Scenario {
  const r = rng(seed * 7919 + 1);
  const providers = ['aws', 'gcp', 'azure'].slice(0, 1 + Math.floor(r() * 3));
  const bad = new Set<string>();
  const world = new World(seed, 'v1.149.0', 'v1.150.0', {
    badSeeds: bad,
    badSeedFailureRate: 0.3 + r() * 0.7,
    noiseRate: r() < 0.5 ? 0 : r() * 0.03,
    userErrorShare: r() * 0.5,
  });
  const names: string[] = [];
  for (const p of providers) {
    const regions = 1 + Math.floor(r() * 3);
    for (let g = 0; g < regions; g++) {
      const n = 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) {
        const name = `${p}-r${g}-${i}`;
        const parent = i > 0 && r() < 0.25 ? `${p}-r${g}-0` : undefined;
        world.addSeed({ name, provider: p, region: `r${g}`, labels: { 'seed.gardener.cloud/provider': p, env: r() < 0.1 ? 'internal' : 'prod' }, ...(parent ? { parent } : {}), breaksOnUpgrade: r() < 0.03 });
        names.push(name);
        const shoots = Math.floor(r() * 16);
        for (let j = 0; j < shoots; j++) {
          world.addShoot({ namespace: `garden-p${j % 4}`, name: `${name}-s${j}`, seed: name, hibernated: r() < 0.1, health: r() < 0.03 ? 'unhealthy' : 'healthy', userError: false });
        }
      }
    }
  }
  if (r() < 0.4) for (let k = 0; k < 1 + Math.floor(r() * 2); k++) bad.add(pick(r, names));

  const extension = r() < 0.2;
  const waves: Record<string, unknown>[] = [];
  const canaryKind = r();
  const canaryGate = { maxUnhealthyRatio: r() < 0.5 ? 0 : 0.1, minSampleSize: 1 + Math.floor(r() * 5) };
  if (canaryKind < 0.33) waves.push({ name: 'canary', seedNames: [pick(r, names.filter((n) => n.endsWith('-0')))], healthGate: canaryGate });
  else if (canaryKind < 0.66) waves.push({ name: 'canary', autoPick: { coverage: pick(r, ['ProviderRegion', 'Provider', 'Region']) }, healthGate: canaryGate });
  else waves.push({ name: 'canary', count: 1, healthGate: canaryGate });
  for (let k = 0; k < Math.floor(r() * 3); k++) waves.push({ name: `w${k}`, percent: 10 + Math.floor(r() * 50), ...(r() < 0.5 ? { maxConcurrentSeeds: 1 + Math.floor(r() * 2) } : {}) });
  waves.push({ name: 'rest', percent: 100, ...(r() < 0.5 ? { maxConcurrentSeeds: 1 + Math.floor(r() * 3) } : {}) });

  const spec = CanaryRolloutSpec.parse({
    target: extension
      ? { extension: { controllerDeployment: 'provider-sim', version: 'v1.150.0', helm: { ociRepository: { ref: 'r/provider-sim:v1.150.0' } } } }
      : { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    ...(r() < 0.2 ? { seedSelector: { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['internal'] }] } } : {}),
    waves,
    healthGate: { maxUnhealthyRatio: pick(r, [0.05, 0.1, 0.2]), maxOverallUnhealthyRatio: pick(r, [0.05, 0.1, 0.2]), minSampleSize: 1 + Math.floor(r() * 15), ...(r() < 0.2 ? { confidence: { level: 0.9 } } : {}) },
    bake: pick(r, ['0s', '30m', '1h', '2h']),
    progressDeadline: pick(r, ['2h', '4h', '8h']),
    onProgressDeadline: pick(r, ['Pause', 'Fail']),
    onHalt: { emergencyStop: r() < 0.8, rollback: pick(r, ['Freeze', 'RevertAll']) },
    dryRun: r() < 0.03,
  });
  const vanish = r() < 0.05 ? { step: 5 + Math.floor(r() * 40), seed: pick(r, names) } : undefined;
  // extension targets: a primary registration takes the reconcile gate, a non-primary one the seed selector
  if (extension) world.enableExtension('provider-sim', r() < 0.5);
  return { world, spec, ...(vanish ? { vanishAt: vanish } : {}) };
}

/** A random operator: mostly quiet, resumes halted or paused rollouts after a while, sometimes aborts. */
function operator(seed: number) {
  const r = rng(seed * 31 + 7);
  let since = 0;
  return (_step: number, status: CanaryRolloutStatus | undefined): string | undefined => {
    const phase = status?.phase;
    since++;
    if ((phase === 'Halted' || phase === 'Paused' || phase === 'Failed') && since > 6 && r() < 0.3) {
      since = 0;
      return pick(r, phase === 'Failed' ? ['retry', 'abort'] : ['resume', 'resume', 'abort']);
    }
    if (r() < 0.005) return pick(r, ['pause', 'promote', 'resume', 'retry', 'abort', 'bogus']);
    return undefined;
  };
}

const ctxOf = (s: CanaryRolloutStatus | undefined) => (s?.machine?.state as { context: Omit<Ctx, 'plan' | 'history'> } | undefined)?.context;
const MUTATING = new Set(['promoteSeed', 'releaseSeed', 'labelSeed']);

/** Checks every invariant on one step; returns violations. */
export function violations(sc: Scenario, steps: Step[]): string[] {
  const out: string[] = [];
  const promotedEver = new Set<string>();
  for (const [i, step] of steps.entries()) {
    const before = step.before?.phase;
    const after = step.decision.status;
    const ctx = ctxOf(after)!;
    const promotes = step.decision.effects.filter((e) => MUTATING.has(e.type) && !(e.type === 'labelSeed' && e.value === null)) as { type: string; seed: string }[];
    const where = `step ${i} (${before ?? '-'} -> ${after.phase}${step.operation ? `, op ${step.operation}` : ''})`;

    // a halt stays latched until an operator resumes or aborts
    if (before === 'Halted' && step.operation !== 'resume' && step.operation !== 'abort' && after.phase !== 'Halted') out.push(`${where}: halt not latched`);
    // nothing is promoted unless the rollout is and stays progressing
    if (promotes.length && (before !== 'Progressing' || after.phase !== 'Progressing')) out.push(`${where}: promoted while not progressing`);
    for (const e of promotes) {
      // never beyond the current wave (so never beyond a halted one), never twice, never out of scope
      const wave = after.plan?.waves.findIndex((w) => w.seeds.some((s) => s.name === e.seed));
      if (wave === undefined || wave < 0) out.push(`${where}: ${e.seed} promoted but not planned`);
      else if (wave !== after.currentWave) out.push(`${where}: ${e.seed} of wave ${wave} promoted during wave ${after.currentWave}`);
      if (promotedEver.has(e.seed)) out.push(`${where}: ${e.seed} promoted twice`);
      promotedEver.add(e.seed);
      const seed = sc.world.seeds.get(e.seed);
      if (!seed || !matchesSelector(seed.labels, sc.spec.seedSelector)) out.push(`${where}: ${e.seed} is out of scope`);
    }
    // never more seeds in flight than the wave allows
    const limit = sc.spec.waves[ctx.current]?.maxConcurrentSeeds;
    if (limit !== undefined) {
      // a promoted seed that vanished (deleted, or out of scope) is skipped, not waited for: not in flight
      const inFlight = Object.entries(ctx.seeds).filter(([n, s]) => s.wave === ctx.current && s.root === n && s.promotedAt && !s.readyAt && !s.vanished).length;
      if (inFlight > limit) out.push(`${where}: ${inFlight} seeds in flight, limit ${limit}`);
    }
    // no wave passes before its bake ends or below its sample size
    const prevCtx = ctxOf(step.before);
    ctx.waves.forEach((w, j) => {
      if (!w.finishedAt || prevCtx?.waves[j]?.finishedAt) return;
      const min = sc.spec.waves[j]!.healthGate?.minSampleSize ?? sc.spec.healthGate.minSampleSize;
      if (!w.bakeUntil || Date.parse(w.finishedAt) < Date.parse(w.bakeUntil)) out.push(`${where}: wave ${w.name} finished before its bake ended`);
      if (!w.gate || w.gate.outcome !== 'pass' || w.gate.sample < min) out.push(`${where}: wave ${w.name} finished with gate ${w.gate?.outcome} at sample ${w.gate?.sample} < ${min}`);
    });
    if (after.phase === 'Succeeded' && ctx.waves.some((w) => !w.finishedAt)) out.push(`${where}: succeeded with unfinished waves`);
    if (sc.spec.dryRun && promotes.length) out.push(`${where}: dry run promoted`);
    // reconcile gate: the new content goes live only after every unreleased planned seed is held
    const effects = step.decision.effects;
    effects.forEach((e, k) => {
      if (e.type !== 'updateControllerDeployment' || !sc.spec.target.extension || !sameHelm(e.helm, targetHelm(sc.spec)) || after.extension?.strategy !== 'ReconcileGate') return;
      const held = new Set(effects.slice(0, k).flatMap((x) => (x.type === 'holdSeed' ? [x.seed] : [])));
      const open = Object.entries(ctx.seeds).filter(([n, s]) => !s.promotedAt && !held.has(n));
      if (open.length) out.push(`${where}: ControllerDeployment updated while ${open.map(([n]) => n).join(', ')} not held`);
    });
  }
  return out;
}


export function simulate(seed: number): { sc: Scenario; steps: Step[] } {
  const sc = scenario(seed);
  const op = operator(seed);
  const steps = runSimulation(sc.world, sc.spec, {
    maxSteps: 250,
    stepMs: 10 * 60_000,
    operator: (step, status) => {
      if (sc.vanishAt && step === sc.vanishAt.step) sc.world.seeds.get(sc.vanishAt.seed)!.exists = false;
      return op(step, status);
    },
  });
  return { sc, steps };
}
