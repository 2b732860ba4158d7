// Random landscapes, fault scripts and operators for the engine's simulation tests, and the invariants every
// step of a run must keep.
import { CanaryRolloutSpec, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { restoreContext } from '../../src/engine/persisted.js';
import { sameHelm, targetHelm } from '../../src/engine/extension.js';
import { matchesSelector } from '../../src/engine/selector.js';
import { rng, World } from '../../src/sim/world.js';
import type { DesiredGarden } from '../../src/engine/desired.js';
import { runSimulation, type FaultRates, type Step } from './run-sim.js';

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
  // extension targets: a primary registration needs the reconcile gate, which Auto never takes on its own (the
  // operator sets it); a non-primary one takes the seed selector under Auto
  if (extension) {
    const primary = r() < 0.5;
    world.enableExtension('provider-sim', primary);
    if (primary) spec.target.extension!.strategy = 'ReconcileGate';
  }
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

/** The machine context as the engine reads it back (persisted.ts). */
const ctxOf = (spec: CanaryRolloutSpec, s: CanaryRolloutStatus | undefined) => restoreContext(spec, s)?.ctx;

/** How the world differs from what the persisted status owes it (empty once converged). */
export function mismatches(world: World, d: DesiredGarden): string[] {
  const out: string[] = [];
  for (const [n, w] of Object.entries(d.seeds)) {
    const s = world.seeds.get(n);
    if (!s?.exists) continue;
    if (w.stop !== undefined && s.emergencyStopped !== w.stop) out.push(`${n}: emergency stop ${s.emergencyStopped}, owed ${w.stop}`);
    if (w.marks === null && s.marks) out.push(`${n}: still marked`);
    if (w.marks && (s.marks?.wave !== w.marks.wave || s.marks.canary !== w.marks.canary)) out.push(`${n}: marks ${JSON.stringify(s.marks)}, owed ${JSON.stringify(w.marks)}`);
    if (w.chart && !s.parent) {
      const want = w.chart.replaces ? w.chart.previousVersion : w.chart.version;
      if (want && s.chart !== want) out.push(`${n}: chart ${s.chart}, owed ${want}`);
    }
    const key = d.temporary?.seedLabel;
    if (key && w.releaseLabel !== undefined && (s.labels[key] ?? null) !== w.releaseLabel) out.push(`${n}: release label ${s.labels[key]}, owed ${w.releaseLabel}`);
  }
  const ext = world.ext;
  if (ext && d.deployment && !sameHelm(ext.deployments.get(d.deployment.name)?.helm, d.deployment.helm)) out.push(`ControllerDeployment ${d.deployment.name} does not carry the owed content`);
  if (ext && d.temporary && ext.registrations.has(d.temporary.registration) !== d.temporary.present) out.push(`temporary registration present: ${!d.temporary.present}`);
  if (ext && d.registrationGate) {
    const gated = (ext.registrations.get(d.registrationGate.registration)?.selector?.matchExpressions ?? []).some((e) => e.key === d.registrationGate!.seedLabel);
    if (gated !== d.registrationGate.on) out.push(`registration gate ${gated}, owed ${d.registrationGate.on}`);
  }
  return out;
}

/** Checks every invariant on one step; returns violations. `converged[i]`: mismatches right after step i converged. */
export function violations(sc: Scenario, steps: Step[], converged: (string[] | undefined)[] = []): string[] {
  const out: string[] = [];
  for (const [i, step] of steps.entries()) {
    const before = step.before?.phase;
    const after = step.decision.status;
    const ctx = ctxOf(sc.spec, after)!;
    const prevCtx = ctxOf(sc.spec, step.before);
    const where = `step ${i} (${before ?? '-'} -> ${after.phase}${step.operation ? `, op ${step.operation}` : ''}${step.fault ? `, fault ${step.fault}` : ''})`;

    // a halt stays latched until an operator resumes or aborts; its stops are let go only by a resume
    if (before === 'Halted' && step.operation !== 'resume' && step.operation !== 'abort' && after.phase !== 'Halted') out.push(`${where}: halt not latched`);
    const lifted = (prevCtx?.haltStops ?? []).filter((n) => !(ctx.haltStops ?? []).includes(n));
    if (lifted.length && step.operation !== 'resume') out.push(`${where}: halt stops on ${lifted.join(', ')} forgotten`);
    // a revert, once decided, is carried through: RollingBack ends only in RolledBack
    if (before === 'RollingBack' && after.phase !== 'RollingBack' && after.phase !== 'RolledBack') out.push(`${where}: revert abandoned`);
    // promotions are decided only while progressing, in the current wave, in scope, once per seed
    const newly = Object.entries(ctx.seeds).filter(([n, s]) => s.promotedAt && !prevCtx?.seeds[n]?.promotedAt).map(([n]) => n);
    if (newly.length && (before !== 'Progressing' || after.phase !== 'Progressing')) out.push(`${where}: promoted while not progressing`);
    for (const n of newly) {
      const wave = after.plan?.waves.findIndex((w) => w.seeds.some((s) => s.name === n));
      if (wave === undefined || wave < 0) out.push(`${where}: ${n} promoted but not planned`);
      else if (wave !== after.currentWave) out.push(`${where}: ${n} of wave ${wave} promoted during wave ${after.currentWave}`);
      const seed = sc.world.seeds.get(n);
      if (!seed || !matchesSelector(seed.labels, sc.spec.seedSelector)) out.push(`${where}: ${n} is out of scope`);
    }
    for (const n of Object.keys(prevCtx?.seeds ?? {})) if (prevCtx!.seeds[n]!.promotedAt && !ctx.seeds[n]?.promotedAt) out.push(`${where}: ${n} forgot its promotion`);
    // never more seeds in flight than the wave allows
    const limit = sc.spec.waves[ctx.current]?.maxConcurrentSeeds;
    if (limit !== undefined) {
      // a promoted seed that vanished (deleted, or out of scope) is skipped, not waited for: not in flight
      const inFlight = Object.entries(ctx.seeds).filter(([n, s]) => s.wave === ctx.current && s.root === n && s.promotedAt && !s.readyAt && !s.vanished).length;
      if (inFlight > limit) out.push(`${where}: ${inFlight} seeds in flight, limit ${limit}`);
    }
    // no wave passes before its bake ends or below its sample size, unless it has no seed left to expose (every one
    // vanished, or none planned): such a wave is skipped at once, and says so
    ctx.waves.forEach((w, j) => {
      if (!w.finishedAt || prevCtx?.waves[j]?.finishedAt) return;
      const empty = !Object.values(ctx.seeds).some((s) => s.wave === j && !s.vanished);
      if (empty) {
        if (!w.gate?.reason.startsWith('empty wave')) out.push(`${where}: empty wave ${w.name} finished without saying it was empty`);
        return;
      }
      const min = sc.spec.waves[j]!.healthGate?.minSampleSize ?? sc.spec.healthGate.minSampleSize;
      if (!w.bakeUntil || Date.parse(w.finishedAt) < Date.parse(w.bakeUntil)) out.push(`${where}: wave ${w.name} finished before its bake ended`);
      if (!w.gate || w.gate.outcome !== 'pass' || w.gate.sample < min) out.push(`${where}: wave ${w.name} finished with gate ${w.gate?.outcome} at sample ${w.gate?.sample} < ${min}`);
    });
    if (after.phase === 'Succeeded' && ctx.waves.some((w) => !w.finishedAt)) out.push(`${where}: succeeded with unfinished waves`);
    if (sc.spec.dryRun && step.applied.length) out.push(`${where}: dry run wrote to the garden`);
    // a fault-free pass converges the world completely
    const m = converged[i];
    if (!step.fault && m?.length) out.push(`${where}: not converged: ${m.slice(0, 3).join('; ')}`);
  }
  // a revert, once started, lands: a run does not end in RollingBack long after it began
  const back = steps.findIndex((s) => s.decision.status.phase === 'RollingBack');
  if (back >= 0 && steps.at(-1)!.decision.status.phase === 'RollingBack' && steps.length - back > 40) out.push(`still RollingBack ${steps.length - back} steps after the abort`);
  // the world saw each seed promoted at most once, and only seeds the status promoted
  const last = ctxOf(sc.spec, steps.at(-1)?.decision.status);
  for (const [n, k] of sc.world.changes.promotions) {
    if (k > 1) out.push(`${n} promoted ${k} times`);
    if (!last?.seeds[n]?.promotedAt && !Object.values(last?.seeds ?? {}).some((s) => s.root === n && s.promotedAt)) out.push(`${n} promoted in the world, not in the status`);
  }
  return out;
}

/**
 * The reconcile gate's promise, checked on the world after every step: while the new content is live, every planned
 * seed not released yet is stopped, whatever faults hit the writes.
 */
export function gateHolds(sc: Scenario, step: Step): string | undefined {
  const ctx = ctxOf(sc.spec, step.decision.status);
  const ext = sc.world.ext;
  if (!ctx || !ext || step.decision.status.extension?.strategy !== 'ReconcileGate') return undefined;
  if (!sameHelm(ext.deployments.get(sc.spec.target.extension!.controllerDeployment)?.helm, targetHelm(sc.spec))) return undefined;
  const open = Object.entries(ctx.seeds).filter(([n, s]) => !s.promotedAt && !s.vanished && sc.world.seeds.get(n)?.exists && !sc.world.seeds.get(n)!.emergencyStopped);
  return open.length ? `new content live while ${open.map(([n]) => n).join(', ')} not held` : undefined;
}

export interface SimulationRun {
  sc: Scenario;
  steps: Step[];
  /** Mismatches between the world and what the status owes it, right after each step's convergence. */
  converged: string[][];
  /** Violations of the reconcile gate's promise, per step. */
  gate: string[];
}

export function simulate(seed: number, faults?: Omit<FaultRates, 'seed'>): SimulationRun {
  const sc = scenario(seed);
  const op = operator(seed);
  const converged: string[][] = [];
  const gate: string[] = [];
  const steps = runSimulation(sc.world, sc.spec, {
    maxSteps: 250,
    stepMs: 10 * 60_000,
    ...(faults ? { faults: { ...faults, seed: seed * 131 + 17 } } : {}),
    operator: (step, status) => {
      if (sc.vanishAt && step === sc.vanishAt.step) sc.world.seeds.get(sc.vanishAt.seed)!.exists = false;
      return op(step, status);
    },
    afterStep: (step, i) => {
      converged[i] = mismatches(sc.world, step.desired);
      const g = gateHolds(sc, step);
      if (g) gate.push(`step ${i}: ${g}`);
    },
  });
  return { sc, steps, converged, gate };
}
