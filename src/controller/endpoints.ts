// The controller's HTTP endpoints: /metrics (Prometheus), /healthz (liveness: fails while a reconcile is stuck, so
// the kubelet restarts us) and /readyz (readiness: the caches have synced and we are not stopping).
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface EndpointSources {
  registry: Registry;
  /** Reconciles running past the stuck bound. */
  stuck(): { rollout: string; seconds: number }[];
  /** Every cache has completed its first list. */
  synced(): boolean;
  stopping(): boolean;
}

export class Endpoints {
  private server: Server | undefined;

  constructor(private readonly s: EndpointSources) {}

  async listen(port: number): Promise<void> {
    const server = createServer((req, res) => void this.serve(req.url ?? '/', res));
    this.server = server;
    await new Promise<void>((r) => server.listen(port, r));
  }

  /** The port listened on (0 before listen). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private async serve(url: string, res: ServerResponse): Promise<void> {
    if (url === '/healthz') {
      // a wedged reconcile (a bug, or a call that outlives every timeout) fails liveness, so the kubelet restarts us
      const stuck = this.s.stuck();
      if (!stuck.length) return void res.end('ok');
      res.statusCode = 500;
      return void res.end(`reconcile stuck: ${stuck.map((s) => `${s.rollout} for ${s.seconds}s`).join(', ')}`);
    }
    if (url === '/readyz') {
      const synced = this.s.synced();
      res.statusCode = synced && !this.s.stopping() ? 200 : 503;
      return void res.end(synced ? 'ok' : 'caches not synced');
    }
    if (url === '/metrics') {
      res.setHeader('Content-Type', this.s.registry.contentType);
      return void res.end(await this.s.registry.metrics());
    }
    res.statusCode = 404;
    res.end();
  }
}
