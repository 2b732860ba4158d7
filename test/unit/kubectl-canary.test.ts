// kubectl canary's commands and session without a garden: the rollout file check, the operation patch, the mapping
// of client errors to operator messages, the kubeconfig, and no control sequence from the API on the terminal.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { ANNOTATION_OPERATION, ANNOTATION_REASON } from '../../src/api/v1alpha1.js';
import { run } from '../../src/cli/kubectl-canary.js';
import { operationPatch, readRolloutFile } from '../../src/cli/kubectl-canary/commands.js';
import { CliError, describeError, isTransient, TimeoutError } from '../../src/cli/kubectl-canary/errors.js';
import { printable, serialize } from '../../src/cli/kubectl-canary/format.js';
import { loadConfig } from '../../src/cli/kubectl-canary/session.js';
import { RESOURCES } from '../../src/kube/client.js';

describe('kubectl canary: rollout file', () => {
  const valid = `apiVersion: canary.gardener.cloud/v1alpha1
kind: CanaryRollout
metadata: {name: r1}
spec:
  target: {gardenlet: {ociRepository: {ref: "r/gardenlet:v1.150.0"}, version: v1.150.0}}
  waves: [{name: canary, count: 1}]
`;

  it('accepts one valid CanaryRollout and applies the defaults', () => {
    const r = readRolloutFile('r.yaml', valid);
    expect(r.metadata.name).toBe('r1');
    expect(r.spec.healthGate.maxUnhealthyRatio).toBe(0.05);
  });

  it('names the offending fields with their paths', () => {
    const bad = valid.replace('[{name: canary, count: 1}]', '[{name: canary, count: 1, percent: 5}, {name: Bad, count: 0}]');
    expect(() => readRolloutFile('r.yaml', bad)).toThrow(CliError);
    let message = '';
    try {
      readRolloutFile('r.yaml', bad);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^r\.yaml is not a valid CanaryRollout:\n/);
    expect(message).toContain('spec.waves[0]: exactly one of seedNames, seedSelector, count, percent or autoPick must be set');
    expect(message).toContain('spec.waves[1].name: must be a lowercase RFC 1123 name');
    expect(message).toMatch(/spec\.waves\[1\]\.count: /);
  });

  it('rejects YAML errors and more than one document', () => {
    expect(() => readRolloutFile('r.yaml', 'a: [')).toThrow(/^r\.yaml is not valid YAML/);
    expect(() => readRolloutFile('r.yaml', `${valid}---\n${valid}`)).toThrow('r.yaml must hold exactly one CanaryRollout, found 2 documents');
  });
});

describe('kubectl canary: operations and errors', () => {
  it('patches the operation and its reason, removing a stale reason when none is given', () => {
    expect(operationPatch('pause', 'freeze')).toEqual({ metadata: { annotations: { [ANNOTATION_OPERATION]: 'pause', [ANNOTATION_REASON]: 'freeze' } } });
    expect(operationPatch('resume', undefined)).toEqual({ metadata: { annotations: { [ANNOTATION_OPERATION]: 'resume', [ANNOTATION_REASON]: null } } });
  });

  const ctx = { server: 'https://garden:443', resource: RESOURCES.canaryRollouts };
  const status = (code: number, message: string, details?: object) =>
    new k8s.ApiException(code, 'x', JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code, ...(details ? { details } : {}) }), {});

  it('maps API errors: missing CRD, missing rollout, forbidden, unauthorized, others', () => {
    // an API group nobody serves answers in plain text; a served group without the resource with a Status
    expect(describeError(new k8s.ApiException(404, 'x', '404 page not found\n', {}), ctx)).toBe(
      'the CanaryRollout CRD is not installed in this cluster: kubectl apply -f crds/ (or -k deploy/)',
    );
    expect(describeError(status(404, 'the server could not find the requested resource'), { ...ctx, name: 'r1' })).toMatch(/CRD is not installed/);
    expect(describeError(status(404, 'canaryrollouts.canary.gardener.cloud "r1" not found', { name: 'r1', group: 'canary.gardener.cloud', kind: 'canaryrollouts' }), { ...ctx, name: 'r1' })).toBe(
      'canaryrollout "r1" not found',
    );
    expect(describeError(new k8s.ApiException(404, 'x', '404 page not found', {}), { ...ctx, resource: RESOURCES.seeds })).toMatch(/does not serve seeds\.core\.gardener\.cloud/);
    const forbidden = 'canaryrollouts.canary.gardener.cloud is forbidden: User "system:serviceaccount:x:y" cannot list resource "canaryrollouts"';
    expect(describeError(status(403, forbidden), ctx)).toBe(`not allowed: ${forbidden}`);
    expect(describeError(status(401, 'Unauthorized'), ctx)).toMatch(/^not authenticated .*: Unauthorized$/);
    expect(describeError(status(500, 'etcd is down'), ctx)).toBe('the API server refused the request (HTTP 500): etcd is down');
  });

  it('maps connection failures and timeouts to "cannot reach", and tells transient failures apart', () => {
    const refused = Object.assign(new Error('request to https://127.0.0.1:1/apis/x failed, reason: connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeError(refused, ctx)).toBe('cannot reach the API server at https://garden:443: connect ECONNREFUSED 127.0.0.1:1');
    const dns = new Error('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND garden'), { code: 'ENOTFOUND' }) });
    expect(describeError(dns, ctx)).toBe('cannot reach the API server at https://garden:443: fetch failed');
    expect(describeError(new TimeoutError('no answer within 30s'), ctx)).toBe('cannot reach the API server at https://garden:443: no answer within 30s');
    expect([refused, dns, new TimeoutError('t'), status(503, 'x'), status(429, 'x')].map(isTransient)).toEqual([true, true, true, true, true]);
    expect([status(404, 'x'), status(403, 'x'), new Error('boom')].map(isTransient)).toEqual([false, false, false]);
    expect(describeError(new CliError('as is'), ctx)).toBe('as is');
  });

  it('loads the kubeconfig from --kubeconfig or $KUBECONFIG (first file wins) and checks --context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubectl-canary-'));
    const config = (ctx: string, server: string) => `apiVersion: v1
kind: Config
clusters: [{name: ${ctx}, cluster: {server: "${server}"}}]
users: [{name: ${ctx}, user: {token: t}}]
contexts: [{name: ${ctx}, context: {cluster: ${ctx}, user: ${ctx}}}]
current-context: ${ctx}
`;
    writeFileSync(join(dir, 'a'), config('a', 'https://a:443'));
    writeFileSync(join(dir, 'b'), config('b', 'https://b:443'));
    expect(loadConfig({ kubeconfig: join(dir, 'b') }, {}).getCurrentCluster()!.server).toBe('https://b:443');
    const merged = loadConfig({}, { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}` });
    expect(merged.getCurrentCluster()!.server).toBe('https://a:443');
    expect(loadConfig({ context: 'b' }, { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}` }).getCurrentCluster()!.server).toBe('https://b:443');
    expect(() => loadConfig({ kubeconfig: join(dir, 'a'), context: 'c' }, {})).toThrow('context "c" is not in the kubeconfig (contexts: a)');
    expect(() => loadConfig({ kubeconfig: join(dir, 'missing') }, {})).toThrow(`kubeconfig ${join(dir, 'missing')} does not exist`);
    expect(() => loadConfig({}, { HOME: dir })).toThrow('no kubeconfig: set KUBECONFIG or pass --kubeconfig PATH');
  });
});

describe('kubectl canary: nothing from the API reaches the terminal as a control sequence', () => {
  /** The control characters in s (C0 but newline and tab, DEL, C1). */
  const controls = (s: string) => [...s].filter((c) => (c < ' ' && c !== '\n' && c !== '\t') || (c >= '\x7f' && c <= '\x9f'));

  it('printable() drops ANSI escape sequences and control characters, keeps newline, tab and other Unicode', () => {
    expect(printable('plain text: ä ✓ 日本')).toBe('plain text: ä ✓ 日本');
    expect(printable('a\tb\nc')).toBe('a\tb\nc');
    expect(printable('\x1b[31mred\x1b[0m \x1b[2J\x1b[H\x1b[?25l\x1b[1;31;40mx')).toBe('red x'); // CSI: colours, clear, cursor
    expect(printable('\x1b]0;owned\x07title \x1b]8;;https://evil\x1b\\link\x1b]8;;\x1b\\')).toBe('title link'); // OSC to BEL or ST
    expect(printable('\x1bPq#0;2;0;0;0\x1b\\dcs \x1b_apc\x1b\\ok')).toBe('dcs ok'); // DCS, APC strings
    expect(printable('\x1bc\x1b(Breset \x1b7saved\x1b8')).toBe('reset saved'); // two-character and nF escapes
    expect(printable('\x9b2J8bit \x9d0;t\x9cosc \x85nel')).toBe('8bit osc nel'); // 8-bit CSI, OSC with ST, other C1
    expect(printable('cr\roverwrite\b\x00\x07\x7f!')).toBe('croverwrite!'); // CR, BS, NUL, BEL, DEL
    expect(printable('dangling \x1b')).toBe('dangling ');
    expect(printable('unterminated \x1b]0;rest')).toBe('unterminated 0;rest'); // the introducer goes; what is left cannot act
    // nothing below 0x20 but \n and \t, and no DEL or C1, survives any input
    const all = Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('');
    expect(controls(printable(all))).toEqual([]);
  });

  it('-o json escapes DEL and C1 (JSON.stringify leaves them raw) and keeps the value; -o yaml escapes them itself', () => {
    const value = { message: 'a\x1b[2Jb\x7fc\x9bd' };
    const json = serialize(value, 'json');
    expect(controls(json)).toEqual([]);
    expect(JSON.parse(json)).toEqual(value);
    const yamlText = serialize(value, 'yaml');
    expect(controls(yamlText)).toEqual([]);
    expect(yamlText).toBe('message: "a\\e[2Jb\\x7Fc\\x9Bd"\n');
  });

  // A local API server that answers as kube-apiserver would, with text an attacker could have written into a status.
  // a window title, clear screen, cursor home, carriage return, an 8-bit CSI (red), concealed text
  const EVIL = '\x1b]0;owned\x07\x1b[2J\x1b[Hhalted\r\x9b31m \x1b[8mhidden';
  const evil = {
    apiVersion: 'canary.gardener.cloud/v1alpha1',
    kind: 'CanaryRollout',
    metadata: { name: 'evil', creationTimestamp: '2025-06-01T10:30:00Z', resourceVersion: '7' },
    spec: {
      target: { gardenlet: { ociRepository: { ref: 'r/gardenlet:v1.150.0' }, version: 'v1.150.0' } },
      waves: [
        { name: 'canary', count: 1 },
        { name: 'rest', percent: 100 },
      ],
    },
    status: {
      phase: 'Halted',
      waveProgress: '1/2',
      currentWave: 0,
      message: `wave canary: ${EVIL}`,
      conditions: [{ type: 'Waiting', status: 'True', reason: 'X', message: `waiting ${EVIL}`, lastTransitionTime: '2025-06-01T11:00:00Z' }],
      history: [{ time: '2025-06-01T11:00:00Z', kind: 'Operation', event: 'pause', message: `by ${EVIL}`, actor: `\x1b[31mmallory` }],
    },
  };
  let server: Server;
  let kubeconfig: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const base = '/apis/canary.gardener.cloud/v1alpha1/canaryrollouts';
      const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url?.startsWith(`${base}?`) || req.url === base) return send(200, { apiVersion: 'canary.gardener.cloud/v1alpha1', kind: 'CanaryRolloutList', metadata: {}, items: [evil] });
      if (req.url === `${base}/evil`) return send(200, evil);
      return send(403, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 403, reason: 'Forbidden', message: `denied: ${EVIL}` });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'kubectl-canary-'));
    kubeconfig = join(dir, 'kubeconfig');
    // plain HTTP: client-node allows it only with insecure-skip-tls-verify
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: l, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: l, user: {token: t}}]\ncontexts: [{name: l, context: {cluster: l, user: l}}]\ncurrent-context: l\n`);
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  const invoke = async (argv: string[]) => {
    const out: string[] = [];
    const errs: string[] = [];
    const code = await run([...argv, '--kubeconfig', kubeconfig], { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => errs.push(s) }, env: {} });
    return { code, stdout: out.join(''), stderr: errs.join('') };
  };

  it('list, status, -o json and errors print the text without its control sequences', async () => {
    const list = await invoke(['list']);
    expect(list.code).toBe(0);
    expect(controls(list.stdout)).toEqual([]);
    expect(list.stdout).toMatch(/evil\s+Halted\s+.*wave canary: halted {2}hidden\n$/);

    const status = await invoke(['status', 'evil']);
    expect(status.code).toBe(0);
    expect(controls(status.stdout)).toEqual([]);
    expect(status.stdout).toContain('Message:  wave canary: halted hidden\n');
    expect(status.stdout).toContain('Waiting:  waiting halted hidden\n');
    expect(status.stdout).toMatch(/pause +by halted hidden \(by mallory\)\n/);

    const json = await invoke(['status', 'evil', '-o', 'json']);
    expect(controls(json.stdout)).toEqual([]);
    expect((JSON.parse(json.stdout) as { status: { message: string } }).status.message).toBe(`wave canary: ${EVIL}`); // escaped, not lost

    const denied = await invoke(['status', 'other']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe('error: not allowed: denied: halted hidden\n');
  });
});
