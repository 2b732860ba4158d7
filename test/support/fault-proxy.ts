// A TLS-terminating HTTP proxy between a client (the controller process, or a KubeConfig in a test) and
// kube-apiserver, that injects faults at runtime: latency, a network partition (blackhole), TCP resets of every
// client connection, and HTTP errors with a Kubernetes Status body for matching requests. Like `kubectl proxy` it
// authenticates upstream with the upstream kubeconfig's own credentials, so the kubeconfig it writes for its
// clients carries only a dummy token and the proxy's throwaway CA.
//
// Bodies stream both ways, chunk by chunk: a watch through the proxy delivers each event when the server sends it.
// Only plain HTTP requests are proxied: connection upgrades (exec, port-forward) are refused.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer, request as httpsRequest, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';

const run = promisify(execFile);

export interface FaultProxyOptions {
  /** kubeconfig of the real API server (its current context): where requests go and with which credentials */
  upstreamKubeconfig: string;
  /** where to write the kubeconfig that points at the proxy */
  kubeconfigOut: string;
  /** cluster/user/context name in the written kubeconfig (default "fault-proxy") */
  name?: string;
}

/** One request as the proxy saw it. Entries are live: status, ms and heldBytes fill in as the exchange goes on. */
export interface RequestLogEntry {
  /** ms timestamp (Date.now()) when the proxy received the request */
  at: number;
  method: string;
  /** the URL path with its query, as the client sent it */
  path: string;
  /** the query has watch=true or watch=1 */
  watch: boolean;
  /** the status the client got (injected or the server's); unset while nothing was answered */
  status?: number;
  /** answered by a failRequests rule, never forwarded */
  injected: boolean;
  /** arrived while the blackhole was on, so it was held and never answered */
  blackholed: boolean;
  /** matched a failRequests rule with status 'hang': accepted and never answered */
  hung: boolean;
  /** ms from receipt until the response headers went to the client (a watch has it once it is established) */
  ms?: number;
  /** response data from the server that the blackhole kept from the client, in bytes (> 0 once anything was) */
  heldBytes: number;
  /** why the exchange failed on the proxy's side (upstream error, reset, blackhole teardown) */
  error?: string;
}

export type RequestFilter = ((e: RequestLogEntry) => boolean) | { method?: string; path?: RegExp; watch?: boolean; injected?: boolean };

export interface FailRule {
  /** HTTP methods to match (upper case), e.g. ['PATCH','PUT','POST','DELETE']; default all */
  methods?: string[];
  /** matched against the URL path including the query; default all */
  path?: RegExp;
  /** the HTTP status to answer with, or 'hang': accept the request and never answer it (the client times out) */
  status: 429 | 500 | 503 | 'hang';
  /** Retry-After header (and details.retryAfterSeconds) of the answer */
  retryAfterSeconds?: number;
  /** answer this many matching requests, then let them pass; default unlimited */
  times?: number;
}

export interface FailRuleHandle {
  /** matching requests answered by this rule so far */
  readonly hits: number;
  remove(): void;
}

export interface FaultProxy {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** the kubeconfig written for clients of the proxy (= kubeconfigOut) */
  readonly kubeconfig: string;
  /** delay before forwarding each new request; 0 turns it off */
  latency(ms: number): void;
  /**
   * A network partition between the proxy's clients and the server. While on, new requests are accepted but never
   * answered, and nothing more of a response in flight (headers or data, e.g. a watch's next event) reaches the
   * client: it is held, the connection stays open, and the client only notices through its own timeouts. Turning it
   * off destroys every exchange that had something held (held requests, and responses with withheld headers or
   * data): their clients see the connection die, and nothing stale is ever delivered late. An exchange that had
   * nothing to deliver during the partition (an idle watch) goes on. Returns how many exchanges were destroyed (0
   * when turning it on).
   */
  blackhole(on: boolean): number;
  /** Resets every client connection (TCP RST), open watches included. Returns how many were reset. */
  resetAll(): number;
  /** Answers matching requests with an HTTP error and a Kubernetes Status body. Rules are checked in order. */
  failRequests(rule: FailRule): FailRuleHandle;
  clearRules(): void;
  /** log entries, in arrival order, that match the filter */
  requests(filter?: RequestFilter): RequestLogEntry[];
  /** POST/PUT/PATCH/DELETE entries received after sinceMs (default: all) */
  mutating(sinceMs?: number): RequestLogEntry[];
  clearLog(): void;
  /** Closes the server and every connection, and removes the certificate. */
  stop(): Promise<void>;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);
const REASONS: Record<429 | 500 | 503, string> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' };

/** One request/response pair in flight through the proxy. */
interface Exchange {
  entry: RequestLogEntry;
  req: IncomingMessage;
  res: ServerResponse;
  upstream?: ClientRequest;
  /** the blackhole kept something from the client (the request, response headers, data or its end): destroyed when it ends */
  held: boolean;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const name = opts.name ?? 'fault-proxy';
  const up = new k8s.KubeConfig();
  up.loadFromFile(opts.upstreamKubeconfig);
  const cluster = up.getCurrentCluster();
  if (!cluster) throw new Error(`${opts.upstreamKubeconfig}: no current cluster`);
  const upstreamUrl = new URL(cluster.server);
  if (upstreamUrl.protocol !== 'https:') throw new Error(`${name}: upstream ${cluster.server} is not https`);
  // ca, client certificate and key, and the Authorization header of a token (or basic auth) of the upstream user
  const upOpts: RequestOptions = {};
  await up.applyToHTTPSOptions(upOpts);
  const upHeaders = (upOpts.headers ?? {}) as Record<string, string | undefined>;
  const upAuth = upHeaders.Authorization ?? upHeaders.authorization ?? (upOpts.auth ? `Basic ${Buffer.from(upOpts.auth).toString('base64')}` : undefined);
  const agent = new HttpsAgent({
    ca: upOpts.ca,
    cert: upOpts.cert,
    key: upOpts.key,
    rejectUnauthorized: upOpts.rejectUnauthorized,
    servername: upOpts.servername,
    keepAlive: true,
    maxSockets: 256,
  });

  // a throwaway self-signed certificate for 127.0.0.1
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const subject = ['-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'];
  const keyType = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...keyType, ...subject, '-days', '2', '-keyout', keyFile, '-out', certFile]);
  const [key, cert] = await Promise.all([readFile(keyFile), readFile(certFile)]);

  const log: RequestLogEntry[] = [];
  const exchanges = new Set<Exchange>();
  /** raw TCP sockets of the clients (a TLS socket can not be reset itself, its TCP parent can) */
  const sockets = new Set<Socket>();
  const rules: { rule: FailRule; hits: number }[] = [];
  let latencyMs = 0;
  let blackholed = false;
  let stopped = false;

  // requestTimeout 0: the body of a held request is never read, and must not make the server answer 408
  const server: Server = createServer({ key, cert, requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => void handle(req, res));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.end('HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const down = new k8s.KubeConfig();
  down.loadFromOptions({
    clusters: [{ name, server: url, caData: cert.toString('base64') }],
    users: [{ name, token: 'dummy-the-proxy-uses-its-own-credentials' }],
    contexts: [{ name, cluster: name, user: name }],
    currentContext: name,
  });
  await writeFile(opts.kubeconfigOut, down.exportConfig(), { mode: 0o600 });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const query = new URL(path, 'http://x').searchParams;
    const entry: RequestLogEntry = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path,
      watch: query.get('watch') === 'true' || query.get('watch') === '1',
      injected: false,
      blackholed: false,
      hung: false,
      heldBytes: 0,
    };
    log.push(entry);
    const ex: Exchange = { entry, req, res, held: false };
    exchanges.add(ex);
    res.once('close', () => {
      exchanges.delete(ex);
      // the client went away before the end: so does the upstream request (a watch, say)
      if (!res.writableFinished) ex.upstream?.destroy();
    });

    if (latencyMs > 0 && !blackholed) {
      const ms = latencyMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        res.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (res.destroyed) return;
    }
    if (blackholed) {
      entry.blackholed = true;
      ex.held = true;
      return; // accepted, never answered
    }
    const matched = rules.find((r) => matches(r.rule, entry) && (r.rule.times === undefined || r.hits < r.rule.times));
    if (matched) {
      matched.hits++;
      req.resume(); // the body is not needed
      if (matched.rule.status === 'hang') {
        entry.hung = true;
        ex.held = true;
        return; // accepted, never answered
      }
      return inject(ex, matched.rule as FailRule & { status: 429 | 500 | 503 });
    }
    forward(ex);
  }

  function inject(ex: Exchange, rule: FailRule & { status: 429 | 500 | 503 }): void {
    ex.entry.injected = true;
    const status: Record<string, unknown> = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `${name}: injected ${rule.status} for ${ex.entry.method} ${ex.entry.path}`,
      reason: REASONS[rule.status],
      code: rule.status,
    };
    const headers: OutgoingHttpHeaders = {};
    if (rule.retryAfterSeconds !== undefined) {
      status.details = { retryAfterSeconds: rule.retryAfterSeconds };
      headers['retry-after'] = String(rule.retryAfterSeconds);
    }
    answer(ex, rule.status, status, headers);
  }

  function answer(ex: Exchange, code: number, status: object, extra: OutgoingHttpHeaders = {}): void {
    const body = JSON.stringify(status);
    sendHeaders(ex, code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra }, () => ex.res.end(body));
  }

  /** Sends the response headers and runs `then`, unless the blackhole is on: then nothing goes out, ever. */
  function sendHeaders(ex: Exchange, code: number, headers: OutgoingHttpHeaders, then: () => void): void {
    if (blackholed) {
      ex.held = true;
      return;
    }
    ex.entry.status = code;
    ex.entry.ms = Date.now() - ex.entry.at;
    ex.res.writeHead(code, headers);
    ex.res.flushHeaders(); // a watch with nothing to report yet is established now, not at its first event
    then();
  }

  function forward(ex: Exchange): void {
    const { req, res, entry } = ex;
    const headers = copyHeaders(req.headers);
    // the client's (dummy) credentials never go upstream: the proxy's own do
    delete headers.authorization;
    if (upAuth) headers.authorization = upAuth;
    headers.host = upstreamUrl.host;
    const upstream = httpsRequest({
      protocol: 'https:',
      hostname: upstreamUrl.hostname,
      port: upstreamUrl.port || 443,
      method: entry.method,
      path: joinPath(upstreamUrl.pathname, entry.path),
      headers,
      agent,
    });
    ex.upstream = upstream;
    upstream.on('error', (err) => {
      if (res.destroyed) return;
      entry.error ??= `upstream: ${err.message}`;
      if (res.headersSent || ex.held) return void res.destroy();
      answer(ex, 502, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${name}: upstream ${err.message}`, reason: 'InternalError', code: 502 });
    });
    upstream.on('response', (ures) => {
      sendHeaders(ex, ures.statusCode ?? 502, copyHeaders(ures.headers), () => {
        // data (a watch event, a list page) goes out as it arrives
        ures.on('data', (chunk: Buffer) => {
          if (blackholed || ex.held) {
            ex.held = true;
            entry.heldBytes += chunk.length;
            ures.pause(); // held: this exchange ends when the blackhole does
            return;
          }
          if (!res.write(chunk)) {
            ures.pause();
            res.once('drain', () => {
              if (!ex.held) ures.resume();
            });
          }
        });
        ures.on('end', () => {
          if (blackholed || ex.held) ex.held = true;
          else res.end();
        });
        ures.on('error', () => res.destroy());
      });
      if (ex.held) ures.pause();
    });
    req.pipe(upstream);
  }

  function destroyExchange(ex: Exchange, why: string): void {
    ex.entry.error ??= why;
    ex.upstream?.destroy();
    ex.res.destroy();
    exchanges.delete(ex);
  }

  return {
    url,
    kubeconfig: opts.kubeconfigOut,
    latency(ms: number) {
      latencyMs = Math.max(0, ms);
    },
    blackhole(on: boolean): number {
      if (on === blackholed) return 0;
      blackholed = on;
      if (on) return 0;
      let destroyed = 0;
      for (const ex of [...exchanges]) {
        if (!ex.held) continue;
        destroyExchange(ex, 'destroyed when the blackhole ended');
        destroyed++;
      }
      return destroyed;
    },
    resetAll(): number {
      let n = 0;
      for (const ex of exchanges) ex.entry.error ??= 'connection reset';
      for (const socket of [...sockets]) {
        if (socket.destroyed) continue;
        try {
          socket.resetAndDestroy();
        } catch {
          socket.destroy();
        }
        n++;
      }
      return n;
    },
    failRequests(rule: FailRule): FailRuleHandle {
      const r = { rule, hits: 0 };
      rules.push(r);
      return {
        get hits() {
          return r.hits;
        },
        remove() {
          const i = rules.indexOf(r);
          if (i >= 0) rules.splice(i, 1);
        },
      };
    },
    clearRules() {
      rules.length = 0;
    },
    requests(filter?: RequestFilter): RequestLogEntry[] {
      if (!filter) return [...log];
      if (typeof filter === 'function') return log.filter(filter);
      return log.filter(
        (e) =>
          (filter.method === undefined || e.method === filter.method.toUpperCase()) &&
          (filter.path === undefined || filter.path.test(e.path)) &&
          (filter.watch === undefined || e.watch === filter.watch) &&
          (filter.injected === undefined || e.injected === filter.injected),
      );
    },
    mutating(sinceMs = -Infinity): RequestLogEntry[] {
      return log.filter((e) => MUTATING.has(e.method) && e.at > sinceMs);
    },
    clearLog() {
      log.length = 0;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      blackholed = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ex of [...exchanges]) destroyExchange(ex, 'proxy stopped');
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
      agent.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function matches(rule: FailRule, e: RequestLogEntry): boolean {
  if (rule.methods && !rule.methods.some((m) => m.toUpperCase() === e.method)) return false;
  if (rule.path) {
    rule.path.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
    if (!rule.path.test(e.path)) return false;
  }
  return true;
}

function copyHeaders(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP_BY_HOP.has(k.toLowerCase())) continue;
    out[k] = v;
  }
  return out;
}

function joinPath(base: string, path: string): string {
  return base === '/' || base === '' ? path : base.replace(/\/$/, '') + path;
}
