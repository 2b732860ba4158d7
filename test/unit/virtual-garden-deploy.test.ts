// deploy/virtual-garden/: deploy/ split between the virtual garden (what the API holds) and the runtime cluster (what
// runs), nothing lost and nothing twice but the ServiceAccount; the pods reach the virtual garden only through the
// mounted token-file kubeconfig. test/support/kustomize.ts renders it; where kubectl is installed, its kustomize must
// render the same.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import * as yaml from 'js-yaml';
import { tokenFilePaths } from '../../src/kube/token-file.js';
import { kustomizeBuild, type Manifest } from '../support/kustomize.js';

const base = kustomizeBuild('deploy');
const garden = kustomizeBuild('deploy/virtual-garden/garden');
const runtime = kustomizeBuild('deploy/virtual-garden/runtime');
const MOUNT = '/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig';

const id = (m: Manifest) => `${m.kind} ${m.metadata.name}`;
type Deployment = Manifest & {
  spec: {
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        automountServiceAccountToken?: boolean;
        containers: { args: string[]; volumeMounts?: { name: string; mountPath: string }[] }[];
        volumes?: { name: string; projected?: { sources: { secret: { name: string; items: { key: string; path: string }[] } }[] } }[];
      };
    };
  };
};

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('deploy/virtual-garden/', () => {
  it('puts every object of deploy/ into exactly one cluster, but the ServiceAccount (its token is the virtual garden\'s, the pods run under it in the runtime cluster)', () => {
    const split = [...garden.map(id), ...runtime.map(id).filter((i) => i !== 'Secret shoot-access-canary-rollout-controller')].sort();
    expect(split).toEqual([...base.map(id), 'ServiceAccount canary-rollout-controller'].sort());
  });

  it('the virtual garden gets the API, the namespace of lease and ServiceAccount, RBAC and admission; nothing that runs', () => {
    const kinds = new Set(garden.map((m) => m.kind));
    for (const k of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) expect(kinds).toContain(k);
    for (const k of ['Deployment', 'PodDisruptionBudget', 'Service', 'NetworkPolicy', 'Secret']) expect(kinds).not.toContain(k);
    expect(garden.find((m) => m.kind === 'ServiceAccount')!.metadata.namespace).toBe('gardener-canary-rollout');
  });

  it('the runtime cluster gets the pods and what serves and guards them, in namespace garden, and no RBAC', () => {
    expect(runtime.map(id).sort()).toEqual(
      ['Deployment canary-rollout-controller', 'NetworkPolicy canary-rollout-controller', 'PodDisruptionBudget canary-rollout-controller', 'Secret shoot-access-canary-rollout-controller', 'Service canary-rollout-controller-metrics', 'ServiceAccount canary-rollout-controller'].sort(),
    );
    expect(new Set(runtime.map((m) => m.metadata.namespace))).toEqual(new Set(['garden']));
    const secret = runtime.find((m) => m.kind === 'Secret')!;
    // what the virtual garden's gardener-resource-manager (TokenRequestor) looks for
    expect(secret.metadata).toMatchObject({
      labels: { 'resources.gardener.cloud/purpose': 'token-requestor', 'resources.gardener.cloud/class': 'shoot' },
      annotations: { 'serviceaccount.resources.gardener.cloud/name': 'canary-rollout-controller', 'serviceaccount.resources.gardener.cloud/namespace': 'gardener-canary-rollout' },
    });
    // ...and the ServiceAccount it names is the one RBAC binds in the virtual garden
    const bound = garden.flatMap((m) => ((m as { subjects?: { kind: string; name: string; namespace: string }[] }).subjects ?? []).filter((s) => s.kind === 'ServiceAccount'));
    expect(bound.length).toBeGreaterThan(0);
    expect(new Set(bound.map((s) => `${s.namespace}/${s.name}`))).toEqual(new Set(['gardener-canary-rollout/canary-rollout-controller']));
  });

  it('runs the controller with the mounted generic token kubeconfig and the rotating token beside it, and no token of the runtime cluster', () => {
    const dep = runtime.find((m) => m.kind === 'Deployment') as Deployment;
    const pod = dep.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0]!.args).toContain(`--kubeconfig=${MOUNT}/kubeconfig`);
    expect(pod.containers[0]!.args).toContain('--lease-namespace=gardener-canary-rollout');
    expect(pod.containers[0]!.volumeMounts).toEqual([expect.objectContaining({ name: 'garden-kubeconfig', mountPath: MOUNT })]);
    const sources = pod.volumes!.find((v) => v.name === 'garden-kubeconfig')!.projected!.sources.map((s) => `${s.secret.name}: ${s.secret.items.map((i) => `${i.key}->${i.path}`).join()}`);
    expect(sources).toEqual(['generic-token-kubeconfig: kubeconfig->kubeconfig', 'shoot-access-canary-rollout-controller: token->token']);
    expect(dep.spec.template.metadata.labels).toMatchObject({ 'networking.gardener.cloud/to-dns': 'allowed', 'networking.resources.gardener.cloud/to-virtual-garden-kube-apiserver-tcp-443': 'allowed' });
    // the kubeconfig gardener-operator writes (GenerateGenericTokenKubeconfig) names the token by this path, with client-go's spelling
    const generic = `users: [{name: garden, user: {tokenFile: ${MOUNT}/token}}]`;
    expect([...tokenFilePaths(generic, MOUNT).values()]).toEqual([`${MOUNT}/token`]);
  });

  it('lets the runtime pods resolve names and reach the virtual garden\'s kube-apiserver, and keeps deploy/\'s ingress', () => {
    type Policy = Manifest & { spec: { egress: { to?: unknown[]; ports: { protocol: string; port: number }[] }[]; ingress: unknown } };
    const policy = runtime.find((m) => m.kind === 'NetworkPolicy') as Policy;
    const ports = (rule: Policy['spec']['egress'][number]) => rule.ports.map((p) => `${p.protocol}/${p.port}`).sort();
    expect(policy.spec.egress.map(ports)).toEqual([['TCP/53', 'TCP/8053', 'UDP/53', 'UDP/8053'], ['TCP/443']]);
    expect(policy.spec.egress[1]!.to).toEqual([{ podSelector: { matchLabels: { app: 'kubernetes', role: 'apiserver' } } }]);
    expect(policy.spec.ingress).toEqual((base.find((m) => m.kind === 'NetworkPolicy') as Policy).spec.ingress);
  });

  (hasKubectl() ? it : it.skip)('renders as kubectl kustomize renders it', () => {
    for (const dir of ['deploy/virtual-garden/garden', 'deploy/virtual-garden/runtime']) {
      const real = (yaml.loadAll(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })) as Manifest[]).filter(Boolean);
      const byId = (ms: Manifest[]) => Object.fromEntries(ms.map((m) => [`${id(m)} ${m.metadata.namespace ?? ''}`, m]));
      expect(byId(kustomizeBuild(dir))).toEqual(byId(real));
    }
  });
});
