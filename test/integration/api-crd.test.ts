// The CanaryRollout API against the real API server: the generated CRD installs, the examples are accepted
// with the same defaults zod applies, every invalid case is rejected by the API server naming the field and by
// zod at the same path, and `kubectl get` (a Table request) shows the printer columns.
import { readFileSync, readdirSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { API_VERSION, CanaryRollout, CanaryRolloutSpec, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1.js';
import { FIELD_MANAGER } from '../../src/controller/executor.js';
import { MAX_PLANNED_SEEDS, SHOOT_KEYS_RESERVE_BYTES, STATUS_BUDGET_BYTES, utf8Bytes } from '../../src/engine/bounds.js';
import type { SeedTable } from '../../src/engine/seed-table.js';
import { errorMessage, RESOURCES, statusCode, type KubeObject } from '../../src/kube/client.js';
import { ensureCanaryRolloutCRD, readCRD } from '../support/crd.js';
import { gardenClient, uniquePrefix } from '../support/garden.js';
import { INVALID_CASES, invalidSpec } from '../support/invalid-specs.js';
import { LONGEST_SHOOT_KEY, worstCaseSpec, worstCaseStatus } from '../support/worst-case-status.js';
import { issuePaths } from '../support/zod-paths.js';

const client = gardenClient();
const prefix = uniquePrefix('a');
const created: string[] = [];

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
});

afterAll(async () => {
  for (const name of created) await client.delete(RESOURCES.canaryRollouts, name);
  client.kubeConfig.close();
});

function rollout(name: string, spec: unknown): KubeObject {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name }, spec };
}

async function createRollout(name: string, spec: unknown): Promise<KubeObject> {
  const obj = await client.create(RESOURCES.canaryRollouts, rollout(name, spec), { fieldValidation: 'Strict' });
  created.push(name);
  return obj;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** GET as a meta.k8s.io Table, which is what `kubectl get` asks for. */
async function getTable(path: string): Promise<{ columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[]; object: { metadata: { name: string } } }[] }> {
  const kc = client.kubeConfig;
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(kc.getCurrentCluster()!.server + path);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, method: 'GET', headers: { ...opts.headers, Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the CanaryRollout CRD on the real API server', () => {
  it('accepts every example and defaults it exactly as zod does', async () => {
    const files = readdirSync('examples').filter((f) => f.endsWith('.yaml'));
    for (const f of files) {
      const doc = yaml.load(readFileSync(`examples/${f}`, 'utf8')) as { metadata: { name: string }; spec: unknown };
      const stored = await createRollout(`${prefix}-${doc.metadata.name}`.slice(0, 63), doc.spec);
      expect(stored.spec).toEqual(CanaryRolloutSpec.parse(doc.spec));
      // and what the API server stores parses as a CanaryRollout
      expect(CanaryRollout.safeParse(stored).error?.issues ?? []).toEqual([]);
    }
  });

  it.each(INVALID_CASES.map((c) => [c.name, c] as const))('rejects %s, naming the field, as zod does', async (_name, c) => {
    const spec = invalidSpec(c);
    let code: number | undefined;
    let message = '';
    try {
      await createRollout(`${prefix}-invalid-${INVALID_CASES.indexOf(c)}`, spec);
    } catch (err) {
      code = statusCode(err);
      message = errorMessage(err);
    }
    expect(code === 422 || code === 400).toBe(true);
    expect(message).toMatch(new RegExp(`${escapeRegExp(c.field)}[:"]`));
    const parsed = CanaryRolloutSpec.safeParse(spec);
    expect(parsed.success).toBe(false);
    expect(issuePaths(parsed.error!)).toContain(c.field);
    // keep the messages for the record (npm test -- --verbose prints nothing; this is for debugging a failure)
    expect(message.length).toBeGreaterThan(c.field.length);
  });

  it('takes rollout names the controller can handle and rejects the others, as zod does', async () => {
    const spec = { target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } }, waves: [{ name: 'all', percent: 100 }] };
    const longest = `${prefix}-name-`.padEnd(63, 'x');
    await createRollout(longest, spec);
    for (const name of [`${prefix}.dotted`, `${longest}y`]) {
      let code: number | undefined;
      let message = '';
      try {
        await createRollout(name, spec);
      } catch (err) {
        code = statusCode(err);
        message = errorMessage(err);
      }
      expect([name, code]).toEqual([name, 422]);
      expect(message).toContain('metadata.name must be a DNS label');
      expect(CanaryRollout.safeParse(rollout(name, spec)).error?.issues.map((i) => i.message)).toEqual([expect.stringContaining('metadata.name must be a DNS label')]);
    }
    // the rule holds on create only: updates of a stored rollout (its status, its finalizers) are not checked against it
    await client.patchStatus(RESOURCES.canaryRollouts, longest, { status: { phase: 'Pending', message: 'waiting' } });
  });

  it('stores a status at the seed limit with worst-case lengths, within etcd\'s request limit with everything around it', async () => {
    const name = `${prefix}-budget`;
    const created = (await createRollout(name, worstCaseSpec())) as CanaryRollout;
    const keys = Math.floor(SHOOT_KEYS_RESERVE_BYTES / (utf8Bytes(LONGEST_SHOOT_KEY) + 3));
    const status = JSON.parse(JSON.stringify(worstCaseStatus(MAX_PLANNED_SEEDS, keys))) as unknown;
    expect(utf8Bytes(JSON.stringify(status))).toBeLessThanOrEqual(STATUS_BUDGET_BYTES);
    // written the way the reconciler writes it (an update of the status subresource, by the controller's field manager)
    const args = { group: GROUP, version: VERSION, plural: PLURAL, name };
    await client.objects.replaceClusterCustomObjectStatus({ ...args, body: { apiVersion: API_VERSION, kind: KIND, metadata: { name, resourceVersion: created.metadata.resourceVersion }, spec: created.spec, status }, fieldManager: FIELD_MANAGER });
    const stored = (await client.objects.getClusterCustomObject(args)) as { status: unknown; metadata: { managedFields?: unknown[] } };
    expect(stored.status).toEqual(status); // nothing pruned or defaulted away
    // the whole object (spec, metadata with managedFields, status) stays below etcd's default --max-request-bytes
    expect(utf8Bytes(JSON.stringify(stored))).toBeLessThan(1.5 * 1024 * 1024 - 64 * 1024);

    // the seed table's rows are positional: a null inside one (a promoted seed not ready yet) must be stored as written
    type WithTable = { machine: { state: { context: { seeds: SeedTable } } } };
    const table = (status as WithTable).machine.state.context.seeds;
    table.rows = [[5, null, 0], null, [7, null, null, 9], ...table.rows.slice(3)];
    const current = (await client.objects.getClusterCustomObject(args)) as CanaryRollout;
    await client.objects.replaceClusterCustomObjectStatus({ ...args, body: { ...current, status }, fieldManager: FIELD_MANAGER });
    const read = (await client.objects.getClusterCustomObject(args)) as { status: WithTable };
    expect(read.status.machine.state.context.seeds.rows.slice(0, 3)).toEqual([[5, null, 0], null, [7, null, null, 9]]);
  });

  it('keeps target and waves immutable once created', async () => {
    const name = `${prefix}-immutable`;
    await createRollout(name, { target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } }, waves: [{ name: 'all', percent: 100 }] });
    for (const [patch, field, text] of [
      [{ spec: { target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.151.0' }, version: 'v1.151.0' } } } }, 'spec.target', 'target is immutable'],
      [{ spec: { waves: [{ name: 'all', percent: 50 }] } }, 'spec.waves', 'waves are immutable'],
    ] as const) {
      let message = '';
      try {
        await client.patch(RESOURCES.canaryRollouts, name, patch);
      } catch (err) {
        expect(statusCode(err)).toBe(422);
        message = errorMessage(err);
      }
      expect(message).toContain(`${field}: Invalid value`);
      expect(message).toContain(text);
    }
    // what may change: gates, bake, deadlines, dryRun
    await client.patch(RESOURCES.canaryRollouts, name, { spec: { bake: '3h', dryRun: true, healthGate: { minSampleSize: 50 } } });
  });

  it('lets an extension target change only in managedResourceIgnored, maxHold and its strategy from Auto to ReconcileGate', async () => {
    const name = `${prefix}-immutable-ext`;
    const extension = { controllerDeployment: 'provider-x', version: 'v1.2.0', helm: { ociRepository: { ref: 'r.example.com/provider-x:v1.2.0' }, values: { a: 1 } } };
    await createRollout(name, { target: { extension }, waves: [{ name: 'all', percent: 100 }] });
    const flipped = await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { managedResourceIgnored: true } } } });
    expect((flipped as CanaryRollout).spec.target.extension).toEqual({ ...extension, strategy: 'Auto', installationCarePeriod: '30s', managedResourceIgnored: true });
    for (const change of [{ version: 'v1.3.0' }, { helm: { values: { a: 2 } } }, { controllerDeployment: 'provider-y' }]) {
      let message = '';
      try {
        await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { ...change, managedResourceIgnored: false } } } });
      } catch (err) {
        expect(statusCode(err)).toBe(422);
        message = errorMessage(err);
      }
      expect([change, message]).toEqual([change, expect.stringContaining('spec.target: Invalid value')]);
    }
    const strategyError = async (strategy: string) => {
      try {
        await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { strategy } } } });
        return 'accepted';
      } catch (err) {
        return `${statusCode(err)} ${errorMessage(err)}`;
      }
    };
    expect(await strategyError('SeedSelector')).toMatch(/^422 .*spec\.target\.extension\.strategy: Invalid value.*strategy can only change from Auto to ReconcileGate/);
    // accepting the reconcile gate a waiting rollout describes, and bounding it, are the changes an operator may make
    const accepted = await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { strategy: 'ReconcileGate', maxHold: '48h' } } } });
    expect((accepted as CanaryRollout).spec.target.extension).toMatchObject({ strategy: 'ReconcileGate', maxHold: '48h' });
    expect(await strategyError('Auto')).toMatch(/^422 .*strategy can only change from Auto to ReconcileGate/);
    await client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: { maxHold: '72h' } } } });
    // switching the target kind is a change too
    await expect(client.patch(RESOURCES.canaryRollouts, name, { spec: { target: { extension: null, gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } } } })).rejects.toThrow(/spec\.target: Invalid value/);
  });

  it('serves the printer columns, short names and category', async () => {
    const name = `${prefix}-columns`;
    await createRollout(name, { target: { gardenlet: { ociRepository: { ref: 'r.example.com/gardenlet:v1.150.0' }, version: 'v1.150.0' } }, waves: [{ name: 'all', percent: 100 }] });
    // what the controller will write; here only to see it in the table
    await client.patchStatus(RESOURCES.canaryRollouts, name, {
      status: { phase: 'Progressing', targetVersion: 'v1.150.0', waveProgress: '1/1', healthyRatio: 0.97, sampleSize: 33, message: 'baking wave all' },
    });
    const table = await getTable('/apis/canary.gardener.cloud/v1alpha1/canaryrollouts');
    const columns = table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name);
    expect(columns).toEqual(['Name', 'Phase', 'Version', 'Wave', 'Healthy', 'Sample', 'Age']);
    expect(table.columnDefinitions.filter((c) => c.priority === 1).map((c) => c.name)).toEqual(['Target', 'Current', 'DryRun', 'Message']);
    const row = table.rows.find((r) => r.cells[0] === name)!;
    expect(row.cells.slice(0, 6)).toEqual([name, 'Progressing', 'v1.150.0', '1/1', 0.97, 33]);

    const crd = await readCRD(client, 'canaryrollouts.canary.gardener.cloud');
    expect(crd.status?.acceptedNames?.shortNames).toEqual(['rollout', 'cr']);
    expect(crd.status?.acceptedNames?.categories).toEqual(['gardener', 'canary']);
  });
});
