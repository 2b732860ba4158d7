import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { CanaryRollout, CanaryRolloutSpec } from '../../src/api/v1alpha1.js';
import { INVALID_CASES, invalidSpec, validSpec } from '../support/invalid-specs.js';
import { issuePaths } from '../support/zod-paths.js';

describe('CanaryRollout zod schema', () => {
  it('accepts the base spec and fills in the documented defaults', () => {
    const spec = CanaryRolloutSpec.parse(validSpec());
    expect(spec.healthGate).toEqual({
      maxUnhealthyRatio: 0.05,
      maxOverallUnhealthyRatio: 0.05,
      minSampleSize: 20,
      progressing: 'Healthy',
      unknown: 'Unhealthy',
      seedReadinessGracePeriod: '2m',
      // userErrors has a target-dependent default (gatePolicy in src/engine/health.ts)
      exclude: { hibernated: true, baselineUnhealthy: true },
    });
    expect(spec.onHalt).toEqual({ emergencyStop: true, rollback: 'Freeze' });
    expect(spec).toMatchObject({ bake: '1h', progressDeadline: '24h', onProgressDeadline: 'Pause', dryRun: false });
  });

  it('has at least 25 invalid cases', () => {
    expect(INVALID_CASES.length).toBeGreaterThanOrEqual(25);
    expect(new Set(INVALID_CASES.map((c) => c.name)).size).toBe(INVALID_CASES.length);
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))('rejects %s at the offending field', (_name, c) => {
    const result = CanaryRolloutSpec.safeParse(invalidSpec(c));
    expect(result.success).toBe(false);
    expect(issuePaths(result.error!)).toContain(c.field);
  });

  it('takes rollout names that are DNS labels only, reporting at the root as the API server does', () => {
    const named = (name: string) => CanaryRollout.safeParse({ apiVersion: 'canary.gardener.cloud/v1alpha1', kind: 'CanaryRollout', metadata: { name }, spec: validSpec() });
    expect(named('a'.repeat(63)).success).toBe(true);
    for (const bad of ['gardenlet.v1-150', 'a'.repeat(64), 'Upper', '-dash', 'dash-']) {
      const r = named(bad);
      expect([bad, r.error?.issues.map((i) => [i.path, i.message])]).toEqual([bad, [[[], expect.stringMatching(/^metadata\.name must be a DNS label: at most 63 .*no dots$/)]]]);
    }
  });

  it('parses every example', () => {
    const files = readdirSync('examples').filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const doc = yaml.load(readFileSync(`examples/${f}`, 'utf8'));
      const parsed = CanaryRollout.safeParse(doc);
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });
});
