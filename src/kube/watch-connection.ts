// A watch opened through client-node's Watch, with two things client-node keeps to itself: the agent its connection
// goes through (destroying it ends a connection attempt that never got an answer: client-node's Watch takes no
// signal before the response arrives), and the token it sent (a 401 makes the kubeconfig re-read a rotated token
// file at once).
import { Agent } from 'node:http';
import type { RequestOptions } from 'node:https';
import * as k8s from '@kubernetes/client-node';
import type { PooledKubeConfig } from './client.js';

/** client-node builds the request's headers as node-fetch's Headers, not the global class. */
function isHeaders(h: unknown): h is { get(name: string): string | null } {
  return typeof h === 'object' && h !== null && 'get' in h && typeof h.get === 'function';
}

/** The kubeconfig the watch sees: the pooled one, noting the agent and the token of the request it builds. */
class WatchConfig extends k8s.KubeConfig {
  agent: Agent | undefined;
  authorization: string | null = null;

  constructor(private readonly kc: PooledKubeConfig) {
    super();
  }

  override getCurrentCluster(): k8s.Cluster | null {
    return this.kc.getCurrentCluster();
  }

  override async applyToFetchOptions(opts: RequestOptions): ReturnType<k8s.KubeConfig['applyToFetchOptions']> {
    const init = await this.kc.applyToFetchOptions(opts);
    this.agent = init.agent instanceof Agent ? init.agent : undefined;
    this.authorization = isHeaders(init.headers) ? init.headers.get('authorization') : null;
    return init;
  }
}

/** The HTTP status a failed watch request ended with (client-node puts it on the error), if any. */
export function watchStatusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

export interface WatchConnection {
  /** Resolves with the controller that ends the watch once the server has answered. */
  readonly opened: Promise<AbortController>;
  /** Ends the connection, also an attempt that has had no answer yet. */
  destroy(): void;
}

/**
 * Opens a watch of `path`: `onEvent` gets each event's type and object, `onDone` the end (an error, or null when the
 * server closed it). A 401 is reported to the kubeconfig before `onDone` hears of it.
 */
export function openWatch(
  kc: PooledKubeConfig,
  path: string,
  query: Record<string, string | number | boolean>,
  onEvent: (type: string, obj: unknown) => void,
  onDone: (err: unknown) => void,
): WatchConnection {
  const config = new WatchConfig(kc);
  const opened = new k8s.Watch(config).watch(path, query, onEvent, (err: unknown) => {
    if (watchStatusCode(err) === 401) kc.unauthorized(config.authorization);
    onDone(err);
  });
  return { opened, destroy: () => config.agent?.destroy() };
}
