// Installs or updates the CanaryRollout CRD (generated from the schemas) and waits until it is served.
// Through the untyped custom-objects client on purpose: client-node's typed ApiextensionsV1Api serializes the
// body through its model and silently drops JSON-named keys such as `default` and `x-kubernetes-validations`.
import * as z from 'zod';
import { statusCode, type KubeClient, type KubeObject, type ResourceType } from './client.js';
import { canaryRolloutCRD } from '../api/crd.js';

export const CRDS: ResourceType = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };

const CRDStatus = z.looseObject({
  metadata: z.looseObject({ name: z.string() }),
  status: z
    .looseObject({
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish(), // null right after creation
      acceptedNames: z.looseObject({ kind: z.string().optional(), shortNames: z.array(z.string()).nullish(), categories: z.array(z.string()).nullish() }).nullish(),
    })
    .nullish(),
});
export type CRDStatus = z.infer<typeof CRDStatus>;

export async function readCRD(client: KubeClient, name: string): Promise<CRDStatus> {
  return client.get(CRDS, CRDStatus, name);
}

export async function ensureCanaryRolloutCRD(client: KubeClient, timeoutMs = 30_000): Promise<void> {
  const crd: KubeObject = canaryRolloutCRD();
  const name = crd.metadata.name;
  try {
    await client.create(CRDS, crd);
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    await client.patch(CRDS, name, { spec: crd.spec });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await readCRD(client, name);
    const established = current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    if (established && current.status?.acceptedNames?.kind) return;
    if (Date.now() > deadline) throw new Error(`CRD ${name} not established after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
