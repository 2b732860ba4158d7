import { describe, expect, it } from '@jest/globals';
import { CanaryRollout } from '../../src/api/v1alpha1.js';
import { duration, nextSteps, ratioBar, renderStatus } from '../../src/cli/render.js';

const NOW = new Date('2026-11-24T10:00:00Z');

function rollout(status: object): CanaryRollout {
  return CanaryRollout.parse({
    apiVersion: 'canary.gardener.cloud/v1alpha1',
    kind: 'CanaryRollout',
    metadata: { name: 'r1' },
    spec: {
      target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
      waves: [{ name: 'canary', count: 1, healthGate: { maxUnhealthyRatio: 0 } }, { name: 'rest', percent: 100 }],
    },
    status,
  });
}

describe('render', () => {
  it('draws the ratio against the threshold: the mark sits in the middle, the bar crosses it past the threshold', () => {
    expect(ratioBar(0, 0.1)).toBe('[..........|.........]');
    expect(ratioBar(0.05, 0.1)).toBe('[#####.....|.........]');
    expect(ratioBar(0.2, 0.1)).toBe('[##########|#########]');
    expect(ratioBar(0.01, 0)).toBe('[|###################]'); // with a threshold of 0 any unhealthy shoot is past it
    expect(ratioBar(0, 0)).toBe('[|...................]');
  });

  it('formats durations', () => {
    expect(duration(-5)).toBe('0s');
    expect(duration(42_000)).toBe('42s');
    expect(duration(125_000)).toBe('2m5s');
    expect(duration(2 * 3600_000 + 60_000)).toBe('2h1m');
  });

  it('shows a halted rollout: phase, why, the waves with counts, ratio and planned exposure, decisions, and what to do next', () => {
    const r = rollout({
      phase: 'Halted',
      message: 'wave canary: 3 unhealthy of 10 counted shoots exceeds the tolerated 0',
      waveProgress: '1/2',
      waves: [
        { name: 'canary', phase: 'Halted', seedsPromoted: 1, seedsTotal: 1, counts: { shoots: 12, exposed: 10, healthy: 7, unhealthy: 3, excluded: { hibernated: 2 } }, unhealthyRatio: 0.3, bakeUntil: '2026-11-24T10:30:00Z', seeds: [{ name: 'aws-0', phase: 'Promoted' }] },
        { name: 'rest', phase: 'Pending', seedsPromoted: 0, seedsTotal: 4 },
      ],
      history: [{ time: '2026-11-24T09:59:00Z', kind: 'Decision', event: 'Halted', wave: 'canary', message: 'wave canary: 3 unhealthy' }],
      plan: {
        computedAt: '2026-11-24T09:00:00Z',
        seeds: 5,
        shoots: 40,
        waves: [
          { name: 'canary', seeds: [{ name: 'aws-0', provider: 'aws', region: 'eu', shoots: 12 }], shoots: 12, shootsByPurpose: { evaluation: 9, production: 3 }, productionShoots: 3, shootsConfinedToMaintenance: 2 },
          // stored before productionShoots existed: counted from the purposes, infrastructure included
          { name: 'rest', seeds: [], shoots: 28, shootsByPurpose: { development: 20, infrastructure: 1, production: 7 } },
        ],
      },
    });
    const text = renderStatus(r, NOW).join('\n');
    expect(text).toContain('Phase:    Halted   waves 1/2');
    expect(text).toContain('Message:  wave canary: 3 unhealthy of 10 counted shoots exceeds the tolerated 0');
    expect(text).toMatch(/canary\s+Halted\s+1\/1\s+10\s+7\s+3\s+2\s+\[\|#{19}\] 30\.0% \(max 0\.0%\)\s+bake 30m0s left/);
    expect(text).toMatch(/rest\s+Pending\s+0\/4\s+-/);
    expect(text).toContain('  plan: 12 shoots, 3 production, 2 wait for their maintenance window; seeds: aws-0 Promoted');
    expect(text).toContain('  plan: 28 shoots, 8 production\n');
    expect(text).toMatch(/09:59:00 {2}Halted\s+wave canary: 3 unhealthy$/m); // the wave is not repeated
    expect(text).toContain('kubectl canary resume r1');
    expect(nextSteps(rollout({ phase: 'Succeeded' }))).toEqual([]);
  });
});
