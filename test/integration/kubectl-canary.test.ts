// kubectl canary against the real garden API: the built binary (bin/kubectl-canary -> dist/, built by the global
// setup) for what an operator types, and run() in-process where timing matters (watch). No controller runs:
// rollouts keep whatever status the test writes through the status subresource.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import { ANNOTATION_OPERATION, ANNOTATION_REASON, CanaryRollout, type CanaryRolloutStatus } from '../../src/api/v1alpha1.js';
import { run } from '../../src/cli/kubectl-canary.js';
import { describeError } from '../../src/cli/kubectl-canary/errors.js';
import { RESOURCES } from '../../src/kube/client.js';
import { createLandscape } from '../../src/sim/landscape-create.js';
import { deleteLandscape } from '../../src/sim/landscape-delete.js';
import { LABEL_LANDSCAPE, planLandscape } from '../../src/sim/landscape-plan.js';
import { gardenletRollout, smallLandscape } from '../../src/sim/scenario.js';
import { ensureCanaryRolloutCRD } from '../support/crd.js';
import { eventually } from '../support/eventually.js';
import { gardenClient, gardenKubeconfig, serviceAccountKubeconfig, uniquePrefix } from '../support/garden.js';

const client = gardenClient();
const prefix = uniquePrefix('k');
const kubeconfig = gardenKubeconfig();
const dir = mkdtempSync(join(tmpdir(), 'kubectl-canary-'));
const names = { list: `${prefix}-list`, halted: `${prefix}-halted`, ops: `${prefix}-ops`, watch: `${prefix}-watch`, planned: `${prefix}-planned` };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary as kubectl would, against the test garden unless the args name another kubeconfig. */
function kubectlCanary(args: string[], kc: string = kubeconfig): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['bin/kubectl-canary', ...args, '--kubeconfig', kc], { env: { PATH: process.env.PATH ?? '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const rollout = (name: string) =>
  gardenletRollout(name, prefix, 'v1.150.0', {
    waves: [
      { name: 'canary', seedNames: [`${prefix}-aws-eu-1-0`], healthGate: { minSampleSize: 3 } },
      { name: 'rest', percent: 100 },
    ],
  });

/** A status as the controller would write it for a rollout halted in its canary wave. */
function haltedStatus(): CanaryRolloutStatus {
  const t = new Date().toISOString();
  return {
    phase: 'Halted',
    message: 'wave canary: 1 of 5 exposed shoots unhealthy (20.0% > 5.0%)',
    targetVersion: 'v1.150.0',
    waveProgress: '1/2',
    currentWave: 0,
    healthyRatio: 0.8,
    sampleSize: 5,
    waves: [
      {
        name: 'canary',
        phase: 'Halted',
        seedsPromoted: 1,
        seedsTotal: 1,
        counts: { shoots: 5, exposed: 5, healthy: 4, unhealthy: 1, excluded: { hibernated: 0, userError: 0, baselineUnhealthy: 0, accepted: 0, deleting: 0, progressing: 0, unknown: 0 } },
        unhealthyRatio: 0.2,
        startedAt: t,
        seeds: [{ name: `${prefix}-aws-eu-1-0`, phase: 'Promoted' }],
      },
    ],
    history: [{ time: t, kind: 'Decision', event: 'Halted', wave: 'canary', message: 'unhealthy ratio 20.0% exceeds 5.0%' }],
  };
}

async function writeStatus(name: string, status: CanaryRolloutStatus): Promise<void> {
  const rt = RESOURCES.canaryRollouts;
  const current = await client.get(rt, CanaryRollout, name);
  await client.objects.replaceClusterCustomObjectStatus({ group: rt.group, version: rt.version, plural: rt.plural, name, body: { ...current, status } });
}

beforeAll(async () => {
  await ensureCanaryRolloutCRD(client);
  // one managed seed (gcp-us-1-2, hosted on gcp-us-1-0): the plan must move it with its parent
  await createLandscape(client, smallLandscape(prefix, { managedSeeds: 1 }));
  for (const n of [names.list, names.halted, names.ops, names.watch]) await client.create(RESOURCES.canaryRollouts, rollout(n));
  await writeStatus(names.halted, haltedStatus());
  await writeStatus(names.watch, haltedStatus());
}, 180_000);

afterAll(async () => {
  // no controller runs, so there is no finalizer to wait for
  for (const n of Object.values(names)) await client.delete(RESOURCES.canaryRollouts, n).catch(() => undefined);
  await deleteLandscape(client, prefix);
  client.kubeConfig.close();
}, 120_000);

describe('kubectl canary (binary, real garden API)', () => {
  it('list shows the rollouts as a table, and as a List with -o json', async () => {
    const r = await kubectlCanary(['list']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PHASE\s+TARGET\s+WAVE\s+HEALTHY\s+SAMPLE\s+AGE\s+MESSAGE$/);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${names.list}\\s+Pending\\s+gardenlet v1\\.150\\.0\\s+0/2\\s+-\\s+-\\s+\\d+s$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${names.halted}\\s+Halted\\s+gardenlet v1\\.150\\.0\\s+1/2 canary\\s+80\\.0%\\s+5\\s+\\S+\\s+wave canary: 1 of 5`)));

    const json = await kubectlCanary(['ls', '-o', 'json']);
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as { kind: string; items: { metadata: { name: string } }[] };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name)).toEqual(expect.arrayContaining([names.list, names.halted]));
  });

  it('status renders the halted rollout with its wave table and next steps; -o json and -o yaml give the object', async () => {
    const r = await kubectlCanary(['status', names.halted]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Name:     ${names.halted}`);
    expect(r.stdout).toMatch(/Phase:\s+Halted\s+waves 1\/2\s+healthy 80\.0% of 5 counted shoots/);
    expect(r.stdout).toMatch(/^WAVE\s+PHASE\s+SEEDS\s+EXPOSED\s+HEALTHY\s+UNHEALTHY\s+EXCLUDED\s+UNHEALTHY RATIO$/m);
    expect(r.stdout).toMatch(/^canary\s+Halted\s+1\/1\s+5\s+4\s+1\s+0\s+\[[#.|]+\] 20\.0% \(max 5\.0%\)$/m);
    expect(r.stdout).toMatch(/^rest\s+Pending\s+0\/0/m);
    expect(r.stdout).toContain(`kubectl canary resume ${names.halted} --reason`);

    const json = await kubectlCanary(['status', names.halted, '-o', 'json']);
    expect(json.code).toBe(0);
    const obj = CanaryRollout.parse(JSON.parse(json.stdout));
    expect([obj.metadata.name, obj.status?.phase]).toEqual([names.halted, 'Halted']);
    const y = await kubectlCanary(['status', names.halted, '-oyaml']);
    expect((yaml.load(y.stdout) as CanaryRollout).status?.waves?.[0]?.counts?.unhealthy).toBe(1);
  });

  it('plan previews the waves against the live landscape, managed seed with its parent, and creates nothing', async () => {
    const file = join(dir, 'plan.yaml');
    writeFileSync(
      file,
      yaml.dump({
        ...gardenletRollout(names.planned, prefix, 'v1.151.0', {
          waves: [
            { name: 'canary', seedNames: [`${prefix}-gcp-us-1-0`] },
            { name: 'rest', percent: 100 },
          ],
        }),
      }),
    );
    const before = (await client.list(RESOURCES.canaryRollouts, CanaryRollout)).map((r) => r.metadata.name).sort();

    const r = await kubectlCanary(['plan', '-f', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // canary: gcp-us-1-0 and the managed gcp-us-1-2 it hosts; rest: the three aws seeds and gcp-us-1-1
    expect(r.stdout).toMatch(/^6 of 6 in-scope seeds and \d+ shoots in 2 waves\.$/m);
    // expected shoot purposes from the landscape's own (pure) plan; the canary wave also hosts the managed
    // seed's shoot in `garden` (purpose infrastructure)
    const byPurpose = (seeds: string[]) => {
      const n: Record<string, number> = {};
      for (const sh of planLandscape(smallLandscape(prefix, { managedSeeds: 1 })).shoots) if (seeds.includes(sh.seed)) n[sh.purpose] = (n[sh.purpose] ?? 0) + 1;
      return Object.keys(n).sort().map((p) => `${p} ${n[p]}`).join(', ');
    };
    expect(r.stdout).toMatch(/^canary\s+2\s+11\s+.*infrastructure 1/m);
    const rest = ['aws-eu-1-0', 'aws-eu-1-1', 'aws-eu-1-2', 'gcp-us-1-1'].map((s) => `${prefix}-${s}`);
    const production = planLandscape(smallLandscape(prefix, { managedSeeds: 1 })).shoots.filter((sh) => rest.includes(sh.seed) && sh.purpose === 'production').length;
    expect(r.stdout).toMatch(new RegExp(`^rest\\s+4\\s+20\\s+${production}\\s+${byPurpose(rest)}$`, 'm'));
    expect(r.stdout).toContain(`canary: ${prefix}-gcp-us-1-0, ${prefix}-gcp-us-1-2 (managed, follows ${prefix}-gcp-us-1-0)`);
    expect(r.stdout).toContain(`rest: ${prefix}-aws-eu-1-0, ${prefix}-aws-eu-1-1, ${prefix}-aws-eu-1-2, ${prefix}-gcp-us-1-1`);

    const json = await kubectlCanary(['plan', '-f', file, '-o', 'json']);
    const { plan } = JSON.parse(json.stdout) as { plan: { waves: { name: string; seeds: unknown[]; shoots: number }[] } };
    expect(plan.waves.map((w) => [w.name, w.seeds.length])).toEqual([
      ['canary', 2],
      ['rest', 4],
    ]);

    expect((await client.list(RESOURCES.canaryRollouts, CanaryRollout)).map((x) => x.metadata.name).sort()).toEqual(before);
    expect(await client.tryGet(RESOURCES.canaryRollouts, CanaryRollout, names.planned)).toBeUndefined();
  });

  it('plan rejects an invalid rollout file with the offending paths (exit 1)', async () => {
    const file = join(dir, 'bad.yaml');
    const bad = rollout('bad') as unknown as { spec: { waves: object[] } };
    bad.spec.waves = [{ name: 'canary', count: 1, percent: 10 }];
    writeFileSync(file, yaml.dump(bad));
    const r = await kubectlCanary(['plan', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${file} is not a valid CanaryRollout:`);
    expect(r.stderr).toContain('spec.waves[0]: exactly one of seedNames, seedSelector, count, percent or autoPick must be set');
  });

  it('pause --reason sets both annotations; resume without a reason removes the stale one', async () => {
    const r = await kubectlCanary(['pause', names.ops, '--reason', 'change freeze']);
    expect(r).toEqual({ code: 0, stdout: `canaryrollout ${names.ops}: pause requested\n`, stderr: '' });
    let obj = await client.get(RESOURCES.canaryRollouts, CanaryRollout, names.ops);
    expect(obj.metadata.annotations).toMatchObject({ [ANNOTATION_OPERATION]: 'pause', [ANNOTATION_REASON]: 'change freeze' });

    // nobody consumed the pause (no controller): replacing it is said on stderr
    const resume = await kubectlCanary(['resume', names.ops]);
    expect(resume).toMatchObject({ code: 0, stdout: `canaryrollout ${names.ops}: resume requested\n` });
    expect(resume.stderr).toContain('replacing the pending operation "pause"');
    obj = await client.get(RESOURCES.canaryRollouts, CanaryRollout, names.ops);
    expect(obj.metadata.annotations?.[ANNOTATION_OPERATION]).toBe('resume');
    expect(obj.metadata.annotations?.[ANNOTATION_REASON]).toBeUndefined();
  });

  it('an unknown rollout is exit 1 with a clear message, for status and operations', async () => {
    for (const args of [['status', `${prefix}-nope`], ['abort', `${prefix}-nope`, '--reason', 'x']]) {
      const r = await kubectlCanary(args);
      expect(r).toEqual({ code: 1, stdout: '', stderr: `error: canaryrollout "${prefix}-nope" not found\n` });
    }
  });

  it('an unreachable API server is exit 1 naming the server', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'u' }],
      currentContext: 'nowhere',
    });
    const path = join(dir, 'unreachable.kubeconfig');
    writeFileSync(path, kc.exportConfig());
    const r = await kubectlCanary(['list'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot reach the API server at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
  });

  it('a user without RBAC on canaryrollouts gets "not allowed" with the API message (exit 1)', async () => {
    const sa = `${prefix}-nobody`;
    await client.core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: sa } } });
    try {
      const path = await serviceAccountKubeconfig(client, 'default', sa, join(dir, 'nobody.kubeconfig'), 600);
      const r = await kubectlCanary(['list'], path);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: not allowed: canaryrollouts\\.canary\\.gardener\\.cloud is forbidden: User "system:serviceaccount:default:${sa}" cannot list`));
    } finally {
      await client.core.deleteNamespacedServiceAccount({ name: sa, namespace: 'default' });
    }
  });

  it("maps the API server's real 404 for an unserved resource to the CRD hint", async () => {
    // the CRD is installed for the other tests; an API group nobody serves answers exactly as a missing CRD does
    const err = await client.objects.listClusterCustomObject({ group: `${prefix}.canary.gardener.cloud`, version: 'v1alpha1', plural: 'canaryrollouts' }).catch((e: unknown) => e);
    expect(describeError(err, { server: 'x', resource: RESOURCES.canaryRollouts })).toBe(
      'the CanaryRollout CRD is not installed in this cluster: kubectl apply -f crds/ (or -k deploy/)',
    );
  });
});

describe('kubectl canary watch (in-process run(), real garden API)', () => {
  const capture = (isTTY = false) => {
    const out = { text: '', isTTY, write: (s: string) => (out.text += s) };
    return out;
  };

  it('redraws on every change and ends with exit 0 once the phase is final', async () => {
    const stdout = capture();
    const stderr = capture();
    const done = run(['status', names.watch, '--watch', '--kubeconfig', kubeconfig], { stdout, stderr, env: {}, pollMs: 200 });
    // on timeout, the failed expectation shows both outputs
    const until = (text: string) => eventually(`"${text}" on stdout`, () => expect({ stdout: stdout.text, stderr: stderr.text }).toMatchObject({ stdout: expect.stringContaining(text) }), 20_000, { pollMs: 50 });
    await until('Phase:    Halted');
    await writeStatus(names.watch, { ...haltedStatus(), phase: 'RollingBack', message: 'aborted by operator' });
    await until('Phase:    RollingBack');
    await writeStatus(names.watch, { ...haltedStatus(), phase: 'Aborted', message: 'aborted by operator' });
    expect(await done).toBe(0);
    // not a terminal: frames are separated by a blank line, one per change of the object, no escape codes
    const frames = stdout.text.split(/\n\n(?=Name: )/);
    expect(frames.map((f) => /Phase:\s+(\w+)/.exec(f)?.[1])).toEqual(['Halted', 'RollingBack', 'Aborted']);
    expect(stdout.text).not.toContain('\x1b[');
    expect(stderr.text).toBe('');
  });

  it('clears the screen on a terminal and stops on Ctrl-C with exit 0', async () => {
    const stdout = capture(true);
    const stderr = capture();
    const ctrl = new AbortController();
    const done = run(['status', names.halted, '-w', '--kubeconfig', kubeconfig], { stdout, stderr, env: {}, pollMs: 200, signal: ctrl.signal });
    await eventually('a frame', () => expect({ stdout: stdout.text, stderr: stderr.text }).toMatchObject({ stdout: expect.stringContaining('Phase:') }), 20_000, { pollMs: 50 });
    ctrl.abort();
    expect(await done).toBe(0);
    expect(stdout.text.startsWith('\x1b[H\x1b[2J')).toBe(true);
  });

  it('status without --watch of a rollout that has no status yet shows it as Pending (in-process)', async () => {
    const stdout = capture();
    const stderr = capture();
    expect(await run(['status', names.list, '--kubeconfig', kubeconfig], { stdout, stderr, env: {} })).toBe(0);
    expect(stdout.text).toMatch(/Phase:\s+Pending\s+waves 0\/2/);
  });

  it('uses $KUBECONFIG from the given environment and honours --context', async () => {
    const stdout = capture();
    const stderr = capture();
    const ctx = client.kubeConfig.getCurrentContext();
    expect(await run(['list', '--context', ctx, '-o', 'yaml'], { stdout, stderr, env: { KUBECONFIG: kubeconfig } })).toBe(0);
    expect((yaml.load(stdout.text) as { items: { metadata: { labels?: Record<string, string> } }[] }).items.some((i) => i.metadata.labels?.[LABEL_LANDSCAPE] === prefix)).toBe(true);
    const bad = capture();
    expect(await run(['list', '--context', 'nope'], { stdout: capture(), stderr: bad, env: { KUBECONFIG: kubeconfig } })).toBe(1);
    expect(bad.text).toMatch(/^error: context "nope" is not in the kubeconfig/);
  });
});
