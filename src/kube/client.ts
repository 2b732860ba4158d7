// A small typed layer over @kubernetes/client-node for the resources this project touches.
// - one keep-alive connection pool per credential set (client-node 1.x creates a new https.Agent, i.e. a new
//   TLS connection, for every request);
// - list with pagination, get, create, merge-patch of object and status, delete;
// - responses are parsed with the caller's zod schema, so malformed objects fail here with a clear message;
// - a kubeconfig user's token file is re-read as it rotates (TokenFile below).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import type * as z from 'zod';
import type { Logger } from '../util/log.js';

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
  controllerRegistrations: {
    group: 'core.gardener.cloud',
    version: 'v1beta1',
    plural: 'controllerregistrations',
    kind: 'ControllerRegistration',
    namespaced: false,
  },
  controllerDeployments: { group: 'core.gardener.cloud', version: 'v1', plural: 'controllerdeployments', kind: 'ControllerDeployment', namespaced: false },
  controllerInstallations: {
    group: 'core.gardener.cloud',
    version: 'v1beta1',
    plural: 'controllerinstallations',
    kind: 'ControllerInstallation',
    namespaced: false,
  },
  credentialsBindings: { group: 'security.gardener.cloud', version: 'v1alpha1', plural: 'credentialsbindings', kind: 'CredentialsBinding', namespaced: true },
  gardenlets: { group: 'seedmanagement.gardener.cloud', version: 'v1alpha1', plural: 'gardenlets', kind: 'Gardenlet', namespaced: true },
  managedSeeds: { group: 'seedmanagement.gardener.cloud', version: 'v1alpha1', plural: 'managedseeds', kind: 'ManagedSeed', namespaced: true },
  canaryRollouts: { group: 'canary.gardener.cloud', version: 'v1alpha1', plural: 'canaryrollouts', kind: 'CanaryRollout', namespaced: false },
} as const satisfies Record<string, ResourceType>;

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
  const path = url.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0]!;
  const parts = path.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource = '', name, sub] = rest;
  const verb = method === 'GET' ? (name === undefined ? 'list' : 'get') : (VERBS[method] ?? method.toLowerCase());
  return { verb, resource: sub ? `${resource}/${sub}` : resource };
}

/**
 * How old a token read from a file may get before it is read again: client-go's cached file token source reads it
 * every minute with a 10 s leeway, i.e. at 50 s (k8s.io/client-go/transport/token_source.go, NewCachedFileTokenSource).
 */
export const TOKEN_FILE_MAX_AGE_MS = 50_000;

export interface TokenFileOptions {
  maxAgeMs?: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  read?: (path: string) => string;
  log?: Logger;
}

/**
 * A bearer token kept in a file that something else rotates: kubelet for a projected ServiceAccount token, Gardener's
 * TokenRequestor for a generic token kubeconfig (gardener: pkg/controller/tokenrequestor/reconciler.go renews at 80 %
 * of the token's lifetime). As client-go does it (k8s.io/client-go/transport/token_source.go): the token is read again
 * once it is TOKEN_FILE_MAX_AGE_MS old, and at once after the API server rejected it (401), so a rotation that revoked
 * the old token costs the requests in flight, not a minute of failures; surrounding whitespace is trimmed; an empty
 * file is an error; a failed re-read keeps the last token and is tried again at the next request.
 */
export class TokenFile {
  private cached: string | undefined;
  private readAt = 0;
  private rejectedToken = false;
  private failing = false;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly read: (path: string) => string;
  /** Successful reads of the file, by why it was read. */
  readonly reads = { first: 0, age: 0, rejected: 0 };

  constructor(
    readonly path: string,
    private readonly o: TokenFileOptions = {},
  ) {
    this.maxAgeMs = o.maxAgeMs ?? TOKEN_FILE_MAX_AGE_MS;
    this.now = o.now ?? (() => performance.now());
    this.read = o.read ?? ((p) => readFileSync(p, 'utf8'));
  }

  /** The token to send; throws only when the file has never been read successfully. */
  token(): string {
    const now = this.now();
    if (this.cached !== undefined && !this.rejectedToken && now - this.readAt < this.maxAgeMs) return this.cached;
    const reason = this.cached === undefined ? 'first' : this.rejectedToken ? 'rejected' : 'age';
    let fresh: string;
    try {
      fresh = this.read(this.path).trim();
      if (!fresh) throw new Error(`token file ${this.path} is empty`);
    } catch (err) {
      if (this.cached === undefined) throw err; // nothing to fall back on: the request fails saying why
      if (!this.failing) this.o.log?.error('token file unreadable, sending the last token read', err, { path: this.path, reason });
      this.failing = true;
      return this.cached;
    }
    if (this.failing) this.o.log?.info('token file readable again', { path: this.path });
    if (reason === 'rejected') this.o.log?.info('token file read again after the API server rejected its token', { path: this.path, changed: fresh !== this.cached });
    this.failing = false;
    this.rejectedToken = false;
    this.cached = fresh;
    this.readAt = now;
    this.reads[reason]++;
    return fresh;
  }

  /**
   * The API server answered 401 to a request that carried `token`. Unless the file has been read again since that
   * request took its token, the next request reads it first (client-go: ResetTokenOlderThan the request's start).
   */
  rejected(token: string): void {
    if (token === this.cached) this.rejectedToken = true;
  }
}

/**
 * The token file of each user of a kubeconfig, by user name, absolute. kubectl, client-go and Gardener's generic token
 * kubeconfig spell it `tokenFile` (k8s.io/client-go/tools/clientcmd/api/v1/types.go, AuthInfo; gardener:
 * pkg/utils/gardener/tokenrequest/secrets.go), which client-node 1.4 ignores; client-node reads only `token-file`,
 * once, at load (config_types.js, findToken). Both are taken here. A relative path is relative to the kubeconfig's
 * directory (client-go: clientcmd/loader.go, ResolvePaths).
 */
export function tokenFilePaths(kubeconfig: string, dir: string): Map<string, string> {
  const doc = yaml.load(kubeconfig) as { users?: { name?: unknown; user?: Record<string, unknown> | null }[] } | null;
  const paths = new Map<string, string>();
  for (const u of doc?.users ?? []) {
    const file = u.user?.tokenFile ?? u.user?.['token-file'];
    if (typeof u.name === 'string' && typeof file === 'string' && file) paths.set(u.name, isAbsolute(file) ? file : join(dir, file));
  }
  return paths;
}

/** The rotating token of a kubeconfig user (shared by every PooledKubeConfig built from the same user objects). */
const TOKEN_FILES = new WeakMap<k8s.User, TokenFile>();

/** Sends a user's token file's token; client-node consults custom authenticators after its own, none of which matches a user without authProvider or exec. */
const TOKEN_FILE_AUTH: Parameters<k8s.KubeConfig['addAuthenticator']>[0] = {
  isAuthProvider: (user) => TOKEN_FILES.has(user),
  applyAuthentication: async (user, opts) => {
    const file = TOKEN_FILES.get(user);
    if (!file) return;
    opts.headers = { ...opts.headers, Authorization: `Bearer ${file.token()}` };
  },
};

/**
 * Replaces a kubeconfig's token-file users by users whose token comes from a TokenFile: those with a path in `paths`
 * (tokenFilePaths), and the in-cluster user (client-node's loadFromCluster gives it an authProvider `tokenFile`, which
 * client-node re-reads every 60 s but never after a 401). The token a user also has is dropped: the file wins, as in
 * client-go.
 */
export function adoptTokenFiles(kc: k8s.KubeConfig, paths: Map<string, string>, opts: TokenFileOptions = {}): void {
  kc.users = kc.users.map((user) => {
    const inCluster = (user.authProvider as { name?: string; config?: { tokenFile?: string } } | undefined)?.config?.tokenFile;
    const path = paths.get(user.name) ?? inCluster;
    if (!path) return user;
    const adopted: k8s.User = { ...user, token: undefined, authProvider: undefined };
    TOKEN_FILES.set(adopted, new TokenFile(path, opts));
    return adopted;
  });
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
    const options = (fresh as HttpsAgent & { options: AgentOptions }).options;
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
    const file = user ? TOKEN_FILES.get(user) : undefined;
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

const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const JSON_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

/** HTTP status of a failed API call, or undefined for other errors. */
export function statusCode(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/**
 * How long the server asked us to wait before trying again (a 429 or 503's Retry-After header, or its Status
 * details.retryAfterSeconds), in ms; 0 when it did not say.
 */
export function retryAfterMs(err: unknown): number {
  if (!(err instanceof k8s.ApiException)) return 0;
  const headers = (err.headers ?? {}) as Record<string, string | undefined>;
  const header = Number(headers['retry-after'] ?? headers['Retry-After']);
  if (Number.isFinite(header) && header > 0) return header * 1000;
  const body = apiErrorBody(err) as { details?: { retryAfterSeconds?: unknown } } | undefined;
  const seconds = typeof body === 'object' ? body?.details?.retryAfterSeconds : undefined;
  return typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : 0;
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
    let cont: string | undefined;
    do {
      const base = {
        group: rt.group,
        version: rt.version,
        plural: rt.plural,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit ?? 500,
        _continue: cont,
      };
      const page = (
        rt.namespaced && opts.namespace
          ? await this.objects.listNamespacedCustomObject({ ...base, namespace: opts.namespace })
          : await this.objects.listClusterCustomObject(base)
      ) as { items: unknown[]; metadata?: { continue?: string } };
      for (const item of page.items) items.push(parse(rt, schema, item));
      cont = page.metadata?.continue || undefined;
    } while (cont);
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
    return (await (rt.namespaced && ns
      ? this.objects.createNamespacedCustomObject({ ...args, namespace: ns })
      : this.objects.createClusterCustomObject(args))) as KubeObject;
  }

  /** JSON merge patch (RFC 7386) of the object; `null` values delete keys. */
  async patch(rt: ResourceType, name: string, patch: object, namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: patch, fieldManager: this.fieldManager };
    return (await (namespace
      ? this.objects.patchNamespacedCustomObject({ ...args, namespace }, MERGE_PATCH)
      : this.objects.patchClusterCustomObject(args, MERGE_PATCH))) as KubeObject;
  }

  /** JSON patch (RFC 6902); a leading `test` of /metadata/resourceVersion makes it a compare-and-swap. */
  async jsonPatch(rt: ResourceType, name: string, ops: object[], namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: ops, fieldManager: this.fieldManager };
    return (await (namespace
      ? this.objects.patchNamespacedCustomObject({ ...args, namespace }, JSON_PATCH)
      : this.objects.patchClusterCustomObject(args, JSON_PATCH))) as KubeObject;
  }

  /** JSON merge patch of the status subresource. */
  async patchStatus(rt: ResourceType, name: string, patch: object, namespace?: string): Promise<KubeObject> {
    const args = { group: rt.group, version: rt.version, plural: rt.plural, name, body: patch };
    return (await (namespace
      ? this.objects.patchNamespacedCustomObjectStatus({ ...args, namespace }, MERGE_PATCH)
      : this.objects.patchClusterCustomObjectStatus(args, MERGE_PATCH))) as KubeObject;
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
    const name = (obj as { metadata?: { name?: string } } | null)?.metadata?.name ?? '<unnamed>';
    throw new Error(`${rt.kind} ${name} does not match the expected schema: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return result.data as z.infer<S>;
}
