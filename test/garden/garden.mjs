#!/usr/bin/env node
// Starts the test garden (etcd + kube-apiserver + gardener-apiserver) and stops it again without leaving
// processes behind. Used by `npm run garden`, the jest global setup and the local demo.
//
//   npm run garden -- --kubeconfig PATH [--verbose] [--disable-admission-plugins A,B] [--controllers all|none|A,B]
//
// runs it until SIGINT/SIGTERM; as a module, startGarden() returns a handle with stop().
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureGardenBinaries } from './build.mjs';

const READY_TIMEOUT_MS = 6 * 60_000;
const STOP_TIMEOUT_MS = 90_000;

/**
 * @typedef {object} GardenHandle
 * @property {string} kubeconfig  admin kubeconfig of the running garden
 * @property {string} binDir      directory of the binaries it runs
 * @property {number} startupMs   time from spawn to ready
 * @property {number[]} pids      gardenenv and its children (etcd, kube-apiserver)
 * @property {string} logFile     control-plane log
 * @property {() => Promise<{orphansKilled: number[]}>} stop
 */

/**
 * `controllers`: the gardener-controller-manager controllers gardenenv runs in-process (its --controllers:
 * "controllerregistration,controllerdeployment,seedlifecycle", "all" or "none"). Default "all": the landscape simulator plays only
 * gardenlet. "none" gives a still garden (nothing but the API servers acts on what a test writes).
 * `seedMonitorPeriod`, `seedSyncPeriod`: the seed lifecycle controller's periods, e.g. "5s".
 * @param {{kubeconfig?: string, verbose?: boolean, disableAdmissionPlugins?: string, controllers?: string, seedMonitorPeriod?: string, seedSyncPeriod?: string, log?: (msg: string) => void}} [opts]
 * @returns {Promise<GardenHandle>}
 */
export async function startGarden(opts = {}) {
  const log = opts.log ?? ((msg) => process.stderr.write(`[garden] ${msg}\n`));
  const binDir = await ensureGardenBinaries();
  const workDir = mkdtempSync(join(tmpdir(), 'canary-garden-'));
  const kubeconfig = resolve(opts.kubeconfig ?? join(workDir, 'kubeconfig'));
  const pidfile = join(workDir, 'pids');
  const logFile = join(workDir, 'garden.log');
  const args = ['--kubeconfig', kubeconfig, '--pidfile', pidfile, '--exit-on-stdin-close'];
  if (opts.disableAdmissionPlugins) args.push('--disable-admission-plugins', opts.disableAdmissionPlugins);
  args.push('--controllers', opts.controllers ?? 'all');
  if (opts.seedMonitorPeriod) args.push('--seed-monitor-period', opts.seedMonitorPeriod);
  if (opts.seedSyncPeriod) args.push('--seed-sync-period', opts.seedSyncPeriod);
  if (opts.verbose) args.push('-v');

  const started = Date.now();
  log(`starting etcd, kube-apiserver and gardener-apiserver (log: ${logFile})`);
  // stdin stays an open pipe: when this process dies, gardenenv sees EOF and stops its children.
  const child = spawn(join(binDir, 'gardenenv'), args, {
    stdio: ['pipe', 'pipe', opts.verbose ? 'inherit' : openSync(logFile, 'a')],
    env: { ...process.env, KUBEBUILDER_ASSETS: binDir },
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));

  try {
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`garden not ready after ${READY_TIMEOUT_MS / 1000}s`)), READY_TIMEOUT_MS);
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        rej(new Error(`gardenenv exited before it was ready (code ${code}, signal ${signal})`));
      });
      createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) }).on('line', (line) => {
        if (line.startsWith('ready ')) {
          clearTimeout(timer);
          res(undefined);
        }
      });
    });
  } catch (err) {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
    const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n') : '';
    throw new Error(`${/** @type {Error} */ (err).message}\n--- last lines of ${logFile} ---\n${tail}`, { cause: err });
  }

  const pids = readFileSync(pidfile, 'utf8').split('\n').filter(Boolean).map(Number);
  const startupMs = Date.now() - started;
  log(`ready in ${(startupMs / 1000).toFixed(1)}s, kubeconfig ${kubeconfig}`);

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const result = await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout')]);
      if (result === 'timeout') {
        log(`gardenenv did not stop within ${STOP_TIMEOUT_MS / 1000}s, killing it`);
        child.kill('SIGKILL');
        await exited;
      }
      // envtest starts etcd and kube-apiserver in their own process groups; end any of ours still alive.
      const orphansKilled = [];
      for (const pid of pids.slice(1)) {
        if (isOurs(pid, binDir)) {
          process.kill(pid, 'SIGKILL');
          orphansKilled.push(pid);
        }
      }
      if (orphansKilled.length) log(`killed leftover control-plane processes ${orphansKilled.join(',')}`);
      if (!opts.kubeconfig) rmSync(workDir, { recursive: true, force: true });
      return { orphansKilled };
    })();
    return stopping;
  };
  return { kubeconfig, binDir, startupMs, pids, logFile, stop };
}

/** True when pid is alive and still runs a binary from binDir (PIDs get reused). */
export function isOurs(pid, binDir) {
  try {
    const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return exe.startsWith(binDir);
  } catch {
    return false;
  }
}

/** A sleep that does not keep the process alive: it only bounds waits that race against real events. */
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function parseArgs(argv) {
  const out = { kubeconfig: undefined, verbose: false, disableAdmissionPlugins: undefined, controllers: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--kubeconfig') out.kubeconfig = argv[++i];
    else if (a.startsWith('--kubeconfig=')) out.kubeconfig = a.slice('--kubeconfig='.length);
    else if (a === '--verbose' || a === '-v') out.verbose = true;
    else if (a === '--disable-admission-plugins') out.disableAdmissionPlugins = argv[++i];
    else if (a === '--controllers') out.controllers = argv[++i];
    else if (a.startsWith('--controllers=')) out.controllers = a.slice('--controllers='.length);
    else throw new Error(`unknown argument ${a}; usage: npm run garden -- --kubeconfig PATH [--verbose]`);
  }
  if (!out.kubeconfig) throw new Error('usage: npm run garden -- --kubeconfig PATH [--verbose]');
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const main = async () => {
    const garden = await startGarden(parseArgs(process.argv.slice(2)));
    process.stdout.write(`garden ready: export KUBECONFIG=${garden.kubeconfig}  (Ctrl-C stops it)\n`);
    const shutdown = async (signal) => {
      process.stderr.write(`[garden] ${signal}: stopping\n`);
      const { orphansKilled } = await garden.stop();
      process.exit(orphansKilled.length ? 1 : 0);
    };
    process.once('SIGINT', () => void shutdown('SIGINT'));
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
  };
  main().catch((err) => {
    process.stderr.write(`[garden] ${err.message}\n`);
    process.exit(1);
  });
}

