// A small typed layer over @kubernetes/client-node for the resources this project touches.
// - one keep-alive connection pool per credential set (client-node 1.x creates a new https.Agent, i.e. a new
//   TLS connection, for every request);
// - list with pagination, get, create, merge-patch of object and status, delete;
// - responses are parsed with the caller's zod schema, so malformed objects fail here with a clear message;
// - a kubeconfig user's token file is re-read as it rotates (token-file.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { dirname } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as z from 'zod';
import type { Logger } from '../util/log.js';
import { adoptTokenFiles, TOKEN_FILE_AUTH, tokenFileOf, tokenFilePaths } from './token-file.js';

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const RESOURCES = {
  seeds: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'seeds', kind: 'Seed', namespaced: false },
  shoots: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'shoots', kind: 'Shoot', namespaced: true },
  projects: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'projects', kind: 'Project', namespaced: false },
  cloudProfiles: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'cloudprofiles', kind: 'CloudProfile', namespaced: false },
  controllerRegistrations: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'controllerregistrations', kind: 'ControllerRegistration', namespaced: false },
  controllerDeployments: { group: 'core.gardener.cloud', version: 'v1', plural: 'controllerdeployments', kind: 'ControllerDeployment', namespaced: false },
  controllerInstallations: { group: 'core.gardener.cloud', version: 'v1beta1', plural: 'controllerinstallations', kind: 'ControllerInstallation', namespaced: false },
  credentialsBindings: { group: 'security.gardener.cloud', version: 'v1alpha1', plural: 'credentialsbindings', kind: 'CredentialsBinding', namespaced: true },
  gardenlets: { group: 'seedmanagement.gardener.cloud', version: 'v1alpha1', plural: 'gardenlets', kind: 'Gardenlet', namespaced: true },
  managedSeeds: { group: 'seedmanagement.gardener.cloud', version: 'v1alpha1', plural: 'managedseeds', kind: 'ManagedSeed', namespaced: true },
  canaryRollouts: { group: 'canary.gardener.cloud', version: 'v1alpha1', plural: 'canaryrollouts', kind: 'CanaryRollout', namespaced: false },
} as const satisfies Record<string, ResourceType>;

/** What every object the API server returns has (the rest is kept as it came). */
const ReturnedObject = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
});

/** The name of a raw object (for messages about it), if it has one. */
export function nameOf(raw: unknown): string | undefined {
  const r = NamedObject.safeParse(raw);
  return r.success ? r.data.metadata.name : undefined;
}
const NamedObject = z.object({ metadata: z.object({ name: z.string() }) });

/** A Kubernetes object as sent to or received from the API, before schema parsing. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string } & Record<string, unknown> } & Record<
  string,
  unknown
>;

/** kube-apiserver's own default --request-timeout is 60 s; a call of ours that takes half of it is stuck. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

const MUTATING = new Set<string>(['POST', 'PUT', 'PATCH', 'DELETE']);

const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * The Kubernetes verb and resource of a request (as the API server's audit log and RBAC name them): `list` for a GET
 * of a collection, the resource with its subresource (`canaryrollouts/status`).
 */
export function requestVerb(method: string, url: string): { verb: string; resource: string } {
  const [path = ''] = url.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?');
  const parts = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource = '', name, sub] = rest;
  const verb = method === 'GET' ? (name === undefined ? 'list' : 'get') : (VERBS[method] ?? method.toLowerCase());
  return { verb, resource: sub ? `${resource}/${sub}` : resource };
}

/**
 * KubeConfig that reuses one keep-alive agent per TLS identity instead of a fresh agent (and TLS handshake)
 * per request, and tells a user's token file when the API server rejected its token.
 */
export class PooledKubeConfig extends k8s.KubeConfig {
  constructor() {
    super();
    this.addAuthenticator(TOKEN_FILE_AUTH);
  }

  private readonly agents = new Map<string, HttpsAgent>();
  /** Requests sent through generated API clients (lists, gets, writes); watches are counted by the reflectors. */
  requests = 0;
  /** The same requests by verb and resource ("list shoots", "update canaryrollouts/status"). */
  readonly requestsByVerb = new Map<string, { verb: string; resource: string; count: number }>();
  /**
   * Every request through the generated API clients is aborted after this long (client-node sets no timeout, so one
   * hung call would hold its caller for ever). Watches do not come through here: they have their own timeout.
   */
  requestTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS;

  /**
   * Called before every mutating request (POST, PUT, PATCH, DELETE); what it throws fails the request before it is
   * sent. The controller fences its writes with the leader election here.
   */
  writeGuard: (() => void) | undefined;

  override async applySecurityAuthentication(context: k8s.RequestContext): Promise<void> {
    if (this.writeGuard && MUTATING.has(context.getHttpMethod())) this.writeGuard();
    this.requests++;
    const { verb, resource } = requestVerb(context.getHttpMethod(), context.getUrl());
    const counted = this.requestsByVerb.get(`${verb} ${resource}`);
    if (counted) counted.count++;
    else this.requestsByVerb.set(`${verb} ${resource}`, { verb, resource, count: 1 });
    const timeout = AbortSignal.timeout(Math.max(1, Math.floor(this.requestTimeoutMs)));
    const own = context.getSignal();
    context.setSignal(own ? AbortSignal.any([own, timeout]) : timeout);
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (!(fresh instanceof HttpsAgent)) return; // proxies and plain http keep client-node's behaviour
    const options = fresh.options;
    const key = createHash('sha256')
      .update(JSON.stringify([options.ca, options.cert, options.key, options.rejectUnauthorized, options.servername]))
      .digest('hex');
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new HttpsAgent({ ...options, keepAlive: true, maxSockets: 128 });
      this.agents.set(key, agent);
    }
    fresh.destroy();
    context.setAgent(agent);
  }

  /**
   * The API server answered 401 to a request that carried `authorization`: the current user's token file, if it has
   * one, is read again before the next request. API clients made here report it themselves; watches report it too.
   */
  unauthorized(authorization: string | null | undefined): void {
    const user = this.getCurrentUser();
    const file = user ? tokenFileOf(user) : undefined;
    if (file && authorization?.startsWith('Bearer ')) file.rejected(authorization.slice('Bearer '.length));
  }

  /** client-node's makeApiClient, with an HTTP library that reports 401 answers (unauthorized). */
  override makeApiClient<T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const fetchLibrary = new k8s.IsomorphicFetchHttpLibrary();
    const httpApi = k8s.wrapHttpLibrary({
      send: async (request) => {
        const response = await fetchLibrary.send(request).toPromise();
        if (response.httpStatusCode === 401) this.unauthorized(request.getHeaders()['Authorization']);
        return response;
      },
    });
    return new apiClientType(k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(cluster.server, {}), authMethods: { default: this }, httpApi }));
  }

  /** Closes pooled connections so the process can exit. */
  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** Loads a kubeconfig (or the default: $KUBECONFIG, ~/.kube/config, in-cluster); token files are re-read as they rotate. */
export function loadKubeConfig(path?: string, log?: Logger): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  adoptTokenFiles(kc, path ? tokenFilePaths(readFileSync(path, 'utf8'), dirname(path)) : new Map(), { log });
  return kc;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; pages are followed with the continue token. */
  limit?: number;
}

/** One page of a LIST of custom objects: the items unparsed, and where the list goes on. */
const ListPage = z.object({
  items: z.array(z.unknown()),
  metadata: z.object({ resourceVersion: z.string().optional(), continue: z.string().optional() }).optional(),
});
export type ListPage = z.infer<typeof ListPage>;

/**
 * Every page of a LIST of `rt`, following the continue token (pages of `limit`, default 500); a namespaced resource
 * is listed in `namespace` when one is given. The last page's resourceVersion is the list's.
 */
export async function* listPages(api: k8s.CustomObjectsApi, rt: ResourceType, opts: ListOptions = {}): AsyncGenerator<ListPage> {
  let cont: string | undefined;
  do {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.limit ?? 500, _continue: cont };
    const page = ListPage.parse(rt.namespaced && opts.namespace ? await api.listNamespacedCustomObject({ ...args, namespace: opts.namespace }) : await api.listClusterCustomObject(args));
    yield page;
    cont = page.metadata?.continue || undefined;
  } while (cont);
}

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const JSON_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

/** HTTP status of a failed API call, or undefined for other errors. */
export function statusCode(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** What retryAfterMs reads of a Status body. */
const RetryAfterBody = z.object({ details: z.object({ retryAfterSeconds: z.number() }) });

/**
 * How long the server asked us to wait before trying again (a 429 or 503's Retry-After header, or its Status
 * details.retryAfterSeconds), in ms; 0 when it did not say.
 */
export function retryAfterMs(err: unknown): number {
  if (!(err instanceof k8s.ApiException)) return 0;
  const headers: Partial<Record<string, string>> = err.headers ?? {};
  const header = Number(headers['retry-after'] ?? headers['Retry-After']);
  if (Number.isFinite(header) && header > 0) return header * 1000;
  const body = RetryAfterBody.safeParse(apiErrorBody(err));
  const seconds = body.success ? body.data.details.retryAfterSeconds : undefined;
  return seconds !== undefined && seconds > 0 ? seconds * 1000 : 0;
}

/** The body the API server sent with a failed call, parsed (a Status object, or plain text from a missing API group). */
export function apiErrorBody(err: unknown): unknown {
  if (!(err instanceof k8s.ApiException)) return undefined;
  return typeof err.body === 'string' ? safeJson(err.body) : err.body;
}

/** The API server's message for a failed call (the Status object's message), else the error text. */
export function errorMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body = apiErrorBody(err);
    if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

export class KubeClient {
  readonly objects: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;

  constructor(
    readonly kubeConfig: PooledKubeConfig,
    /** Recorded in managedFields of every write; the controller uses its own. */
    readonly fieldManager = 'canary-rollout',
  ) {
    this.objects = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  async list<S extends z.ZodType>(rt: ResourceType, schema: S, opts: ListOptions = {}): Promise<z.infer<S>[]> {
    const items: z.infer<S>[] = [];
    for await (const page of listPages(this.objects, rt, opts)) for (const item of page.items) items.push(parse(rt, schema, item));
    return items;
  }

  async get<S extends z.ZodType>(rt: ResourceType, schema: S, name: string, namespace?: string): Promise<z.infer<S>> {
    const obj = namespace
      ? await this.objects.getNamespacedCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, namespace, name })
      : await this.objects.getClusterCustomObject({ group: rt.group, version: rt.version, plural: rt.plural, name });
    return parse(rt, schema, obj);
  }

  /** get() that returns undefined for 404. */
  async tryGet<S extends z.ZodType>(rt: ResourceType, schema: S, name: string, namespace?: string): Promise<z.infer<S> | undefined> {
    try {
      return await this.get(rt, schema, name, namespace);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** Creates an object. fieldValidation Strict (what kubectl sends) rejects unknown fields instead of dropping them. */
  async create(rt: ResourceType, body: KubeObject, opts: { fieldValidation?: 'Strict' | 'Warn' | 'Ignore' } = {}): Promise<KubeObject> {
    const full = { apiVersion: `${rt.group}/${rt.version}`, kind: rt.kind, ...body };
    const ns = body.metadata.namespace;
    const args = { group: rt.group, version: rt.version, plural: rt.plural, body: full, fieldValidation: opts.fieldValidation };
    return ReturnedObject.parse(await (rt.namespaced && ns
      ? this.objects.createNamespacedCustomObject({ ...args, namespace: ns })
      : this.objects.createClusterCustomObject(args)));
  }

  /** JSON merge patch (RFC 7386) of the object; `null` values delete keys. */
  async patch(rt: ResourceType, name: string, patch: object, namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: patch, fieldManager: this.fieldManager };
    return ReturnedObject.parse(await (namespace
      ? this.objects.patchNamespacedCustomObject({ ...args, namespace }, MERGE_PATCH)
      : this.objects.patchClusterCustomObject(args, MERGE_PATCH)));
  }

  /** JSON patch (RFC 6902); a leading `test` of /metadata/resourceVersion makes it a compare-and-swap. */
  async jsonPatch(rt: ResourceType, name: string, ops: object[], namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: ops, fieldManager: this.fieldManager };
    return ReturnedObject.parse(await (namespace
      ? this.objects.patchNamespacedCustomObject({ ...args, namespace }, JSON_PATCH)
      : this.objects.patchClusterCustomObject(args, JSON_PATCH)));
  }

  /** JSON merge patch of the status subresource. */
  async patchStatus(rt: ResourceType, name: string, patch: object, namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: patch };
    return ReturnedObject.parse(await (namespace
      ? this.objects.patchNamespacedCustomObjectStatus({ ...args, namespace }, MERGE_PATCH)
      : this.objects.patchClusterCustomObjectStatus(args, MERGE_PATCH)));
  }

  async delete(rt: ResourceType, name: string, namespace?: string): Promise<void> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name };
    try {
      await (namespace ? this.objects.deleteNamespacedCustomObject({ ...args, namespace }) : this.objects.deleteClusterCustomObject(args));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}

function parse<S extends z.ZodType>(rt: ResourceType, schema: S, obj: unknown): z.infer<S> {
  const result = schema.safeParse(obj);
  if (!result.success) {
    const name = nameOf(obj) ?? '<unnamed>';
    throw new Error(`${rt.kind} ${name} does not match the expected schema: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}
