// A kubeconfig user's bearer token kept in a file that something else rotates, read again as client-go reads it.
// PooledKubeConfig (client.ts) sends it through TOKEN_FILE_AUTH and reports 401 answers to it.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as k8s from '@kubernetes/client-node';
import * as yaml from 'js-yaml';
import * as z from 'zod';
import type { Logger } from '../util/log.js';

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

/** What tokenFilePaths reads of a kubeconfig: each user's name and token file (a user it cannot read has none). */
const KubeconfigUsers = z.object({
  users: z
    .array(
      z.object({
        name: z.string().optional().catch(undefined),
        user: z.object({ tokenFile: z.string().optional().catch(undefined), 'token-file': z.string().optional().catch(undefined) }).nullish().catch(undefined),
      }),
    )
    .optional(),
});

/** An in-cluster user's authProvider (client-node's loadFromCluster): where its token file is. */
const InClusterAuth = z.object({ config: z.object({ tokenFile: z.string() }) });

/**
 * The token file of each user of a kubeconfig, by user name, absolute. kubectl, client-go and Gardener's generic token
 * kubeconfig spell it `tokenFile` (k8s.io/client-go/tools/clientcmd/api/v1/types.go, AuthInfo; gardener:
 * pkg/utils/gardener/tokenrequest/secrets.go), which client-node 1.4 ignores; client-node reads only `token-file`,
 * once, at load (config_types.js, findToken). Both are taken here. A relative path is relative to the kubeconfig's
 * directory (client-go: clientcmd/loader.go, ResolvePaths).
 */
export function tokenFilePaths(kubeconfig: string, dir: string): Map<string, string> {
  const doc = KubeconfigUsers.safeParse(yaml.load(kubeconfig));
  const paths = new Map<string, string>();
  for (const u of doc.success ? (doc.data.users ?? []) : []) {
    const file = u.user?.tokenFile ?? u.user?.['token-file'];
    if (u.name && file) paths.set(u.name, isAbsolute(file) ? file : join(dir, file));
  }
  return paths;
}

/** The rotating token of a kubeconfig user (shared by every PooledKubeConfig built from the same user objects). */
const TOKEN_FILES = new WeakMap<k8s.User, TokenFile>();

/** The token file a user's token comes from, if any. */
export const tokenFileOf = (user: k8s.User): TokenFile | undefined => TOKEN_FILES.get(user);

/** Sends a user's token file's token; client-node consults custom authenticators after its own, none of which matches a user without authProvider or exec. */
export const TOKEN_FILE_AUTH: Parameters<k8s.KubeConfig['addAuthenticator']>[0] = {
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
    const auth = InClusterAuth.safeParse(user.authProvider);
    const inCluster = auth.success ? auth.data.config.tokenFile : undefined;
    const path = paths.get(user.name) ?? inCluster;
    if (!path) return user;
    const adopted: k8s.User = { ...user, token: undefined, authProvider: undefined };
    TOKEN_FILES.set(adopted, new TokenFile(path, opts));
    return adopted;
  });
}
