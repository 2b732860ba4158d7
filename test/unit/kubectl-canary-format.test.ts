// What kubectl canary prints, without an API server: the list table, ages, YAML/JSON and the plan preview.
import { describe, expect, it } from '@jest/globals';
import { CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import { age, formatList, formatPlan, rolloutRow, serialize } from '../../src/cli/kubectl-canary/format.js';
import { planRollout, type ObservedSeed, type ObservedShoot } from '../../src/engine/planner.js';

const NOW = new Date('2025-06-01T12:00:00Z');

function rollout(name: string, status: object | undefined, created = '2025-06-01T10:30:00Z') {
  return {
    apiVersion: 'canary.gardener.cloud/v1alpha1',
    kind: 'CanaryRollout',
    metadata: { name, creationTimestamp: created },
    spec: {
      target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
      waves: [
        { name: 'canary', count: 1 },
        { name: 'rest', percent: 100 },
      ],
    },
    ...(status ? { status } : {}),
  };
}

describe('kubectl canary: list table', () => {
  it('formats rows with phase, target, wave, health, sample, age and a truncated message, sorted by name', () => {
    const halted = rollout('b-halted', {
      phase: 'Halted',
      waveProgress: '1/2',
      currentWave: 0,
      healthyRatio: 0.8,
      sampleSize: 20,
      message: `wave canary: unhealthy ratio 20.0% exceeds 5.0%; ${'x'.repeat(100)}`,
    });
    const lines = formatList([halted, rollout('a-new', undefined, '2025-06-01T11:59:15Z')], NOW);
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+TARGET\s+WAVE\s+HEALTHY\s+SAMPLE\s+AGE\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^a-new\s+Pending\s+gardenlet v1\.150\.0\s+0\/2\s+-\s+-\s+45s$/);
    expect(lines[2]).toMatch(/^b-halted\s+Halted\s+gardenlet v1\.150\.0\s+1\/2 canary\s+80\.0%\s+20\s+90m\s+wave canary: unhealthy ratio 20\.0% exceeds 5\.0%; x+\.\.\.$/);
    // columns line up: every cell of a column starts at the same offset
    const col = (l: string) => l.indexOf(l.startsWith('NAME') ? 'PHASE' : l.startsWith('a-') ? 'Pending' : 'Halted');
    expect(new Set(lines.map(col)).size).toBe(1);
    expect(lines[2]!.slice(lines[2]!.indexOf('wave canary')).length).toBe(60);
  });

  it('shows what it can of an object the schema would reject, and the extension target', () => {
    expect(rolloutRow({ metadata: { name: 'odd' } }, NOW)).toEqual(['odd', 'Pending', '-', '0/0', '-', '-', '<unknown>', '']);
    // a field of the wrong type is left out, not fatal
    expect(rolloutRow({ metadata: { name: 7 }, spec: { waves: 'x' }, status: { phase: 3, healthyRatio: 'high', sampleSize: 4 } }, NOW)).toEqual(['<unnamed>', 'Pending', '-', '0/0', '-', '4', '<unknown>', '']);
    expect(rolloutRow(null, NOW)).toEqual(['<unnamed>', 'Pending', '-', '0/0', '-', '-', '<unknown>', '']);
    const ext = { metadata: { name: 'e' }, spec: { target: { extension: { controllerDeployment: 'provider-aws', version: 'v1.62.0' } }, waves: [] } };
    expect(rolloutRow(ext, NOW)[2]).toBe('provider-aws v1.62.0');
    // a finished rollout names no current wave
    expect(rolloutRow(rollout('s', { phase: 'Succeeded', waveProgress: '2/2', currentWave: 1 }), NOW)[3]).toBe('2/2');
  });

  it('ages like kubectl', () => {
    const ago = (s: number) => age(new Date(NOW.getTime() - s * 1000).toISOString(), NOW);
    expect([ago(5), ago(119), ago(150), ago(600), ago(2 * 3600), ago(5 * 3600 + 60), ago(30 * 3600), ago(3 * 86400 + 3600), ago(20 * 86400)]).toEqual([
      '5s',
      '119s',
      '2m30s',
      '10m',
      '120m',
      '5h1m',
      '30h',
      '3d1h',
      '20d',
    ]);
  });

  it('serializes yaml and json', () => {
    expect(serialize({ a: [1] }, 'yaml')).toBe('a:\n  - 1\n');
    expect(JSON.parse(serialize({ a: [1] }, 'json'))).toEqual({ a: [1] });
  });
});

describe('kubectl canary: plan preview', () => {
  const seeds: ObservedSeed[] = [
    ...['aws-eu-0', 'aws-eu-1', 'gcp-us-0', 'gcp-us-1'].map((n) => ({ name: n, provider: n.slice(0, 3), region: n.slice(4, 6), labels: {}, deleting: false })),
    { name: 'aws-eu-ms', provider: 'aws', region: 'eu', labels: {}, parent: 'aws-eu-0', deleting: false },
    ...Array.from({ length: 12 }, (_, i) => ({ name: `az-${String(i).padStart(2, '0')}`, provider: 'azure', region: 'we', labels: { tier: 'big' }, deleting: false })),
  ];
  const shoots: ObservedShoot[] = [
    { seed: 'aws-eu-0', purpose: 'production' },
    { seed: 'aws-eu-0', purpose: 'evaluation', confined: true },
    { seed: 'aws-eu-ms', purpose: 'production' },
    { seed: 'gcp-us-1', purpose: 'testing' },
  ];
  const spec = CanaryRolloutSpec.parse({
    target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
    waves: [
      { name: 'canary', seedNames: ['aws-eu-0'] },
      { name: 'big', seedSelector: { matchLabels: { tier: 'big' } } },
      { name: 'gcp', seedNames: ['gcp-us-0', 'nope'] },
    ],
  });
  const result = planRollout(spec, seeds, shoots, NOW);

  it('prints each wave with seed, shoot and production shoot counts, purposes, at most ten seed names, unplanned seeds and notes', () => {
    const lines = formatPlan('r1', spec, result, 17);
    expect(lines[0]).toBe('Plan for r1 (gardenlet v1.150.0), computed against the live landscape; nothing was created.');
    expect(lines[1]).toBe('15 of 17 in-scope seeds and 3 shoots in 3 waves.');
    expect(lines).toContainEqual(expect.stringMatching(/^WAVE\s+SEEDS\s+SHOOTS\s+PRODUCTION\s+BY PURPOSE$/));
    // canary: aws-eu-0 (1 production, 1 evaluation) and its managed aws-eu-ms (1 production)
    expect(lines).toContainEqual(expect.stringMatching(/^canary\s+2\s+3\s+2\s+evaluation 1, production 2$/));
    expect(lines).toContainEqual(expect.stringMatching(/^big\s+12\s+0\s+0\s+-$/));
    expect(lines).toContainEqual(expect.stringMatching(/^gcp\s+1\s+0\s+0\s+-$/));
    expect(lines).toContain('canary: aws-eu-0, aws-eu-ms (managed, follows aws-eu-0)');
    // only where there are any: shoots that wait for their own maintenance window
    expect(lines.filter((l) => l.includes('maintenance window'))).toEqual(['  1 shoots confine updates to their maintenance window: not force-reconciled, they run the new version in their window']);
    expect(lines).toContain(`big: ${Array.from({ length: 10 }, (_, i) => `az-${String(i).padStart(2, '0')}`).join(', ')}, ... (12 in all)`);
    expect(lines).toContain('Unplanned (in scope, in no wave, never touched): aws-eu-1, gcp-us-1');
    expect(lines).toContain('  - wave gcp: seed nope is not in scope or does not exist');
  });
});
