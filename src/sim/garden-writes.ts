// The fixtures' writes to a garden, made so that running them again is harmless: create what is missing (an object
// that exists is kept), delete what is there and wait until it is gone, and try again while Gardener's admission
// refuses a write its informers have not caught up with yet.
import { ControllerInstallation } from '../gardener/api.js';
import { errorMessage, RESOURCES, statusCode, type KubeClient, type KubeObject, type ResourceType } from '../kube/client.js';
import { Backoff } from '../util/backoff.js';
import { mapLimit } from '../util/concurrency.js';
import { GARDENLET_INSTALLATION_FINALIZER } from './installations.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The API server is overloaded or restarting: 429 (priority and fairness), 500, 502, 503 or 504; worth another try. */
const TRANSIENT = new Set([429, 500, 502, 503, 504]);
const CREATE_ATTEMPTS = 8;

/**
 * Runs `create`, treating AlreadyExists as success (fixtures are idempotent). A garden busy with a landscape of
 * tens of thousands of objects answers 429 or 503 at times: those are tried again with backoff (up to
 * CREATE_ATTEMPTS times, ~1-2 minutes in all); any other failure, or the last, names `what`.
 */
export async function createUnlessExists(what: string, create: () => Promise<unknown>): Promise<void> {
  const backoff = new Backoff({ baseMs: 500, maxMs: 15_000 });
  for (;;) {
    try {
      await create();
      return;
    } catch (err) {
      const code = statusCode(err);
      if (code === 409) return;
      if (code === undefined || !TRANSIENT.has(code) || backoff.attempts >= CREATE_ATTEMPTS - 1) throw new Error(`creating ${what}: ${errorMessage(err)}`, { cause: err });
      await sleep(backoff.next());
    }
  }
}

export async function ensure(client: KubeClient, rt: ResourceType, body: KubeObject): Promise<void> {
  await createUnlessExists(`${rt.kind} ${body.metadata.name}`, () => client.create(rt, body));
}

export async function ensureNamespace(client: KubeClient, name: string, labels?: Record<string, string>): Promise<void> {
  await createUnlessExists(`Namespace ${name}`, () => client.core.createNamespace({ body: { metadata: { name, ...(labels ? { labels } : {}) } } }));
}

export async function ensureSecret(client: KubeClient, namespace: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  await createUnlessExists(`Secret ${namespace}/${name}`, () =>
    client.core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace, labels }, data: { token: Buffer.from('simulated').toString('base64') } } }),
  );
}

/** A catch handler for writes to objects that may be gone already. */
export function ignoreNotFound(err: unknown): void {
  if (statusCode(err) !== 404) throw err;
}

/** Runs `write` again while Gardener's admission forbids it (403), up to 20 times, 250 ms apart. */
export async function retryWhileForbidden(write: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (statusCode(err) !== 403 || attempt >= 20) throw err;
      await sleep(250);
    }
  }
}

export interface WaitUntilGone<T> {
  timeoutMs: number;
  /** Count the timeout from the last time fewer were left (deletions at landscape scale take a while). */
  fromLastProgress?: boolean;
  /** The error when the time is up. */
  error: (left: readonly T[]) => string;
}

/** Calls `left` every 200 ms until it returns nothing, and throws once the time is up. */
export async function waitUntilGone<T>(left: () => Promise<readonly T[]>, o: WaitUntilGone<T>): Promise<void> {
  let end = Date.now() + o.timeoutMs;
  let before = Infinity;
  for (;;) {
    const items = await left();
    if (!items.length) return;
    if (o.fromLastProgress && items.length < before) [before, end] = [items.length, Date.now() + o.timeoutMs];
    if (Date.now() > end) throw new Error(o.error(items));
    await sleep(200);
  }
}

/** Deletes the matching installations, releasing gardenlet's finalizer on them as its uninstall would. */
export async function removeInstallations(client: KubeClient, match: (i: ControllerInstallation) => boolean, concurrency: number): Promise<void> {
  const installations = (await client.list(RESOURCES.controllerInstallations, ControllerInstallation)).filter(match);
  await mapLimit(installations, concurrency, async (i) => {
    const finalizers = i.metadata.finalizers ?? [];
    if (finalizers.includes(GARDENLET_INSTALLATION_FINALIZER)) {
      await client.patch(RESOURCES.controllerInstallations, i.metadata.name, { metadata: { finalizers: finalizers.filter((f) => f !== GARDENLET_INSTALLATION_FINALIZER) } }).catch(ignoreNotFound);
    }
    if (!i.metadata.deletionTimestamp) await client.delete(RESOURCES.controllerInstallations, i.metadata.name);
  });
}
