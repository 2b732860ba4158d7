// gardenlet's view of ControllerInstallations as the simulator plays it, on plain data.
import { describe, expect, it } from '@jest/globals';
import type { ControllerRegistration, Seed } from '../../src/gardener/api.js';
import { isHandledRegistration, neededKindTypesBySeed, requiredKindTypes, type ExtensionShoot } from '../../src/sim/installations.js';

const seed = (name: string, provider = 'aws', labels: Record<string, string> = {}, deleting = false): Seed => ({
  metadata: { name, labels, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { provider: { type: provider, region: 'eu-1' } },
});

const shoot = (name: string, seedName: string, extra: { extensions?: string[]; network?: string; image?: string; provider?: string } = {}): ExtensionShoot => ({
  metadata: { name, namespace: 'garden-p' },
  spec: {
    seedName,
    provider: { type: extra.provider ?? 'aws', workers: [{ machine: { image: { name: extra.image ?? 'gardenlinux' } } }] },
    networking: { type: extra.network ?? 'calico' },
    ...(extra.extensions ? { extensions: extra.extensions.map((type) => ({ type })) } : {}),
  },
});

const registration = (name: string, resources: { kind: string; type: string }[]): ControllerRegistration => ({
  metadata: { name },
  spec: { resources, deployment: { policy: 'OnDemand', deploymentRefs: [{ name }] } },
});

describe('isHandledRegistration', () => {
  it('takes the named registrations and their -canary registrations only', () => {
    const handled = ['ext-a'];
    expect(isHandledRegistration('ext-a', handled)).toBe(true);
    expect(isHandledRegistration('ext-a-canary', handled)).toBe(true);
    expect(isHandledRegistration('ext-a-canary-x1', handled)).toBe(true);
    expect(isHandledRegistration('ext-ab', handled)).toBe(false);
    expect(isHandledRegistration('ext-a-other', handled)).toBe(false);
  });
});

describe('requiredKindTypes (Required condition)', () => {
  const seeds = [seed('s1'), seed('s2', 'gcp')];
  const needed = neededKindTypesBySeed(seeds, [
    shoot('a', 's1', { extensions: ['dns'] }),
    { ...shoot('gone', 's2', { extensions: ['dns'] }), metadata: { name: 'gone', namespace: 'garden-p', deletionTimestamp: '2026-01-01T00:00:00Z' } },
  ]);

  it("names the registration's kind/types that a shoot or the seed itself uses there", () => {
    const reg = registration('x', [
      { kind: 'Extension', type: 'dns' },
      { kind: 'Network', type: 'calico' },
      { kind: 'Extension', type: 'other' },
    ]);
    expect(requiredKindTypes(reg, needed.get('s1'))).toEqual(['Extension/dns', 'Network/calico']);
    expect(requiredKindTypes(registration('p', [{ kind: 'BackupBucket', type: 'gcp' }]), needed.get('s2'))).toEqual(['BackupBucket/gcp']);
  });

  it('ignores shoots being deleted, unknown seeds and unknown registrations', () => {
    expect(requiredKindTypes(registration('x', [{ kind: 'Extension', type: 'dns' }]), needed.get('s2'))).toEqual([]);
    expect(requiredKindTypes(registration('x', [{ kind: 'Extension', type: 'dns' }]), needed.get('nope'))).toEqual([]);
    expect(requiredKindTypes(undefined, needed.get('s1'))).toEqual([]);
  });
});
