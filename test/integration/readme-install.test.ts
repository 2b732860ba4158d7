// The README's install command, as written there, against the test garden. `kubectl apply -f crds/` reads every
// manifest file in crds/, so crds/ must hold nothing but manifests a cluster accepts (its kustomize base is named
// `Kustomization`, which kubectl's -f skips and kustomize still finds).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import * as yaml from 'js-yaml';
import { canaryRolloutCRD } from '../../src/api/crd.js';
import { readCRD } from '../support/crd.js';
import { gardenClient, gardenKubeconfig } from '../support/garden.js';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

/** The README's line that installs the CRD and the examples. */
function readmeInstallLine(): string {
  const line = readFileSync('README.md', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('kubectl apply -f crds/'));
  if (!line) throw new Error('README.md has no line starting with `kubectl apply -f crds/`');
  return line.trim();
}

function kubectl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('kubectl', args, { env: { ...process.env, KUBECONFIG: gardenKubeconfig() }, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

(hasKubectl ? describe : describe.skip)('README install command', () => {
  it('is `kubectl apply -f crds/ && kubectl apply -f examples/`', () => {
    expect(readmeInstallLine()).toBe('kubectl apply -f crds/ && kubectl apply -f examples/');
  });

  it('kubectl apply -f crds/ exits 0 and installs the CRD', async () => {
    const [first] = readmeInstallLine().split(' && ');
    const r = kubectl(first!.split(' ').slice(1));
    expect(r).toEqual({ status: 0, out: expect.stringContaining('customresourcedefinition.apiextensions.k8s.io/canaryrollouts.canary.gardener.cloud') });
    const crd = await readCRD(gardenClient(), canaryRolloutCRD().metadata.name);
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
  });

  it('kubectl apply -f examples/ is accepted by the API server (server-side dry run)', () => {
    // Dry run: for real the examples' rollouts would be picked up by the controllers other tests run in this garden.
    const [, second] = readmeInstallLine().split(' && ');
    const r = kubectl([...second!.split(' ').slice(1), '--dry-run=server']);
    expect(r.status).toBe(0);
    const names = readdirSync('examples')
      .filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => yaml.loadAll(readFileSync(join('examples', f), 'utf8')))
      .map((d) => (d as { metadata?: { name?: string } } | null)?.metadata?.name)
      .filter((n): n is string => !!n);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(r.out).toContain(`canaryrollout.canary.gardener.cloud/${n} created (server dry run)`);
  });

  it('crds/ still works as a kustomize base (kubectl apply -k crds/, deploy/ builds)', () => {
    expect(kubectl(['apply', '-k', 'crds/', '--dry-run=server'])).toMatchObject({ status: 0 });
    const built = execFileSync('kubectl', ['kustomize', 'deploy/'], { encoding: 'utf8' });
    expect(yaml.loadAll(built).filter((d) => (d as { kind?: string }).kind === 'CustomResourceDefinition')).toHaveLength(1);
  });
});
