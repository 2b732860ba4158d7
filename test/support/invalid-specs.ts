// Invalid CanaryRollout specs and the field each must be rejected at, by the API server (CRD schema and CEL)
// and by zod alike. Each case changes one thing in a valid base spec.
import type { CanaryRolloutSpecInput } from '../../src/api/v1alpha1.js';

type Spec = Record<string, unknown>;

export function validSpec(): CanaryRolloutSpecInput {
  return {
    target: { gardenlet: { ociRepository: { ref: 'registry.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [
      { name: 'canary', seedNames: ['seed-a', 'seed-b'] },
      { name: 'rest', percent: 100 },
    ],
  };
}

export interface InvalidCase {
  name: string;
  /** The field the error must name, as the API server prints it. */
  field: string;
  mutate: (spec: Spec) => void;
}

const wave0 = (s: Spec) => (s.waves as Spec[])[0]!;
const gardenlet = (s: Spec) => (s.target as Spec).gardenlet as Spec;
const oci = (s: Spec) => gardenlet(s).ociRepository as Spec;
const extension = (): Spec => ({
  controllerDeployment: 'provider-aws',
  version: 'v1.62.0',
  helm: { ociRepository: { ref: 'registry.example.com/provider-aws:v1.62.0' } },
});

export const INVALID_CASES: InvalidCase[] = [
  { name: 'target missing', field: 'spec.target', mutate: (s) => delete s.target },
  { name: 'target empty', field: 'spec.target', mutate: (s) => (s.target = {}) },
  { name: 'both gardenlet and extension', field: 'spec.target', mutate: (s) => ((s.target as Spec).extension = extension()) },
  { name: 'chart ref and repository', field: 'spec.target.gardenlet.ociRepository', mutate: (s) => (oci(s).repository = 'registry.example.com/gardenlet') },
  {
    name: 'repository without tag or digest',
    field: 'spec.target.gardenlet.ociRepository',
    mutate: (s) => (gardenlet(s).ociRepository = { repository: 'registry.example.com/gardenlet' }),
  },
  { name: 'ref with a tag', field: 'spec.target.gardenlet.ociRepository', mutate: (s) => (oci(s).tag = 'v1.150.0') },
  {
    name: 'malformed digest',
    field: 'spec.target.gardenlet.ociRepository.digest',
    mutate: (s) => (gardenlet(s).ociRepository = { repository: 'registry.example.com/gardenlet', digest: 'sha256:xyz' }),
  },
  { name: 'version not semantic', field: 'spec.target.gardenlet.version', mutate: (s) => (gardenlet(s).version = 'latest') },
  {
    name: 'controllerDeployment not a name',
    field: 'spec.target.extension.controllerDeployment',
    mutate: (s) => (s.target = { extension: { ...extension(), controllerDeployment: 'Provider_AWS' } }),
  },
  { name: 'unknown strategy', field: 'spec.target.extension.strategy', mutate: (s) => (s.target = { extension: { ...extension(), strategy: 'Maybe' } }) },
  { name: 'waves missing', field: 'spec.waves', mutate: (s) => delete s.waves },
  { name: 'no waves', field: 'spec.waves', mutate: (s) => (s.waves = []) },
  { name: 'duplicate wave names', field: 'spec.waves[1]', mutate: (s) => ((s.waves as Spec[])[1]!.name = 'canary') },
  { name: 'wave with count and percent', field: 'spec.waves[0]', mutate: (s) => (s.waves = [{ name: 'w', count: 2, percent: 10 }]) },
  { name: 'wave that selects nothing', field: 'spec.waves[0]', mutate: (s) => (s.waves = [{ name: 'w' }]) },
  { name: 'percent zero', field: 'spec.waves[1].percent', mutate: (s) => ((s.waves as Spec[])[1]!.percent = 0) },
  { name: 'percent above 100', field: 'spec.waves[1].percent', mutate: (s) => ((s.waves as Spec[])[1]!.percent = 150) },
  { name: 'negative count', field: 'spec.waves[0].count', mutate: (s) => (s.waves = [{ name: 'w', count: -1 }]) },
  {
    name: 'autoPick outside the first wave',
    field: 'spec.waves',
    mutate: (s) => ((s.waves as Spec[])[1] = { name: 'rest', autoPick: { coverage: 'Provider' } }),
  },
  { name: 'duplicate seed names', field: 'spec.waves[0].seedNames[1]', mutate: (s) => (wave0(s).seedNames = ['seed-a', 'seed-a']) },
  { name: 'wave name not a name', field: 'spec.waves[0].name', mutate: (s) => (wave0(s).name = 'Canary Wave') },
  { name: 'maxConcurrentSeeds zero', field: 'spec.waves[0].maxConcurrentSeeds', mutate: (s) => (wave0(s).maxConcurrentSeeds = 0) },
  { name: 'bake in words', field: 'spec.waves[0].bake', mutate: (s) => (wave0(s).bake = '2 hours') },
  { name: 'bake in days', field: 'spec.bake', mutate: (s) => (s.bake = '1d') },
  { name: 'empty progress deadline', field: 'spec.progressDeadline', mutate: (s) => (s.progressDeadline = '') },
  { name: 'bake over a year', field: 'spec.bake', mutate: (s) => (s.bake = '8761h') },
  { name: 'wave deadline over a year in minutes', field: 'spec.waves[0].progressDeadline', mutate: (s) => (wave0(s).progressDeadline = '525601m') },
  { name: 'progress deadline beyond any date', field: 'spec.progressDeadline', mutate: (s) => (s.progressDeadline = '99999999999999999999h') },
  { name: 'wave gate sample zero', field: 'spec.waves[0].healthGate.minSampleSize', mutate: (s) => (wave0(s).healthGate = { minSampleSize: 0 }) },
  { name: 'unhealthy ratio above 1', field: 'spec.healthGate.maxUnhealthyRatio', mutate: (s) => (s.healthGate = { maxUnhealthyRatio: 1.5 }) },
  { name: 'negative unhealthy ratio', field: 'spec.healthGate.maxOverallUnhealthyRatio', mutate: (s) => (s.healthGate = { maxOverallUnhealthyRatio: -0.1 }) },
  { name: 'sample size zero', field: 'spec.healthGate.minSampleSize', mutate: (s) => (s.healthGate = { minSampleSize: 0 }) },
  { name: 'fractional sample size', field: 'spec.healthGate.minSampleSize', mutate: (s) => (s.healthGate = { minSampleSize: 2.5 }) },
  { name: 'unknown progressing policy', field: 'spec.healthGate.progressing', mutate: (s) => (s.healthGate = { progressing: 'Sometimes' }) },
  { name: 'confidence level 1', field: 'spec.healthGate.confidence.level', mutate: (s) => (s.healthGate = { confidence: { level: 1 } }) },
  { name: 'error code not a code', field: 'spec.healthGate.exclude.errorCodes[0]', mutate: (s) => (s.healthGate = { exclude: { errorCodes: ['quota'] } }) },
  { name: 'typo in a field name', field: 'spec.healthGate.maxUnhealtyRatio', mutate: (s) => (s.healthGate = { maxUnhealtyRatio: 0.1 }) },
  {
    name: 'In without values',
    field: 'spec.seedSelector.matchExpressions',
    mutate: (s) => (s.seedSelector = { matchExpressions: [{ key: 'environment', operator: 'In' }] }),
  },
  { name: 'unknown rollback policy', field: 'spec.onHalt.rollback', mutate: (s) => (s.onHalt = { rollback: 'Undo' }) },
  { name: 'reconcile rate zero', field: 'spec.shootReconciliation.maxPerMinute', mutate: (s) => (s.shootReconciliation = { maxPerMinute: 0 }) },
  { name: 'dryRun as a string', field: 'spec.dryRun', mutate: (s) => (s.dryRun = 'yes') },
];

export function invalidSpec(c: InvalidCase): Spec {
  const spec = structuredClone(validSpec()) as Spec;
  c.mutate(spec);
  return spec;
}
