// kubectl canary's API session: the kubeconfig picked the way kubectl picks it, and a client whose every call is
// bounded by --request-timeout and fails with a CliError an operator can read.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as z from 'zod';
import { KubeClient, PooledKubeConfig, RESOURCES, errorMessage, type ResourceType } from '../../kube/client.js';
import type { Invocation } from './args.js';
import { CliError, TimeoutError, describeError, isTransient, type ErrorContext } from './errors.js';

/** The environment a run reads (KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST): in-process callers pass their own. */
export type Env = Record<string, string | undefined>;

/**
 * The kubeconfig the way kubectl picks it: --kubeconfig, else the files in $KUBECONFIG (merged, the first to
 * define a name or the current context wins), else ~/.kube/config, else the pod's service account. Reads the
 * given env, not process.env, so in-process callers control it.
 */
export function loadConfig(inv: Pick<Invocation, 'kubeconfig' | 'context'>, env: Env): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  const files = inv.kubeconfig ? [inv.kubeconfig] : (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (files.length === 0 && existsSync(home)) files.push(home);
  const load = (target: k8s.KubeConfig, file: string) => {
    if (!existsSync(file)) throw new CliError(`kubeconfig ${file} does not exist`);
    try {
      target.loadFromFile(file);
    } catch (err) {
      throw new CliError(`cannot read kubeconfig ${file}: ${errorMessage(err)}`);
    }
  };
  const [first, ...rest] = files;
  if (first === undefined) {
    if (!env.KUBERNETES_SERVICE_HOST) throw new CliError('no kubeconfig: set KUBECONFIG or pass --kubeconfig PATH');
    kc.loadFromCluster();
  } else {
    load(kc, first);
    for (const f of rest) {
      const more = new k8s.KubeConfig();
      load(more, f);
      for (const c of more.clusters) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.users) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.contexts) if (!kc.getContextObject(c.name)) kc.addContext(c);
      if (!kc.currentContext && more.currentContext) kc.setCurrentContext(more.currentContext);
    }
  }
  if (inv.context !== undefined) {
    if (!kc.getContextObject(inv.context)) throw new CliError(`context "${inv.context}" is not in the kubeconfig (contexts: ${kc.contexts.map((c) => c.name).join(', ') || 'none'})`);
    kc.setCurrentContext(inv.context);
  }
  if (!kc.getCurrentCluster()) throw new CliError('the kubeconfig has no current context with a cluster: pass --context NAME');
  return kc;
}

/** One API session: the client, and a wrapper that bounds every call and turns failures into CliErrors. */
export class Session {
  readonly client: KubeClient;
  readonly server: string;

  constructor(
    readonly kubeConfig: PooledKubeConfig,
    private readonly timeoutMs: number,
  ) {
    this.client = new KubeClient(kubeConfig, 'kubectl-canary');
    this.server = kubeConfig.getCurrentCluster()?.server ?? '<unknown>';
  }

  async call<T>(ctx: Omit<ErrorContext, 'server'>, fn: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // client-node sets no timeout: a black-holed server would hang the command forever
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${this.timeoutMs / 1000}s`)), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      throw err instanceof CliError ? err : new CliError(describeError(err, { ...ctx, server: this.server }), isTransient(err));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every object of the type, of all namespaces, as the API sent it (the client follows the pages). */
  listRaw(rt: ResourceType): Promise<unknown[]> {
    return this.call({ resource: rt }, () => this.client.list(rt, z.unknown()));
  }

  /** The rollout as the API sent it: callers parse it as strictly as they need. */
  getRollout(name: string): Promise<unknown> {
    const rt = RESOURCES.canaryRollouts;
    return this.call({ resource: rt, name }, () => this.client.get(rt, z.unknown(), name));
  }

  close(): void {
    this.kubeConfig.close();
  }
}
