#!/usr/bin/env node
// Builds the test garden's three binaries (etcd, kube-apiserver, gardenenv) from Go modules into a
// content-addressed cache directory and prints that directory on stdout. Progress goes to stderr.
//
// The cache key covers every input of the build: the go.mod/go.sum of the three modules, our Go sources,
// the Go version and the build flags. A warm call is a hash and a stat. A cold build on 2 cores takes
// many minutes; Go's own build cache (GOCACHE) makes rebuilds after a small change fast.
//
// Usage: node test/garden/build.mjs [--quiet]
//   GARDEN_CACHE_DIR overrides the cache root (default: $XDG_CACHE_HOME/canary-rollout/garden or ~/.cache/...).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const quiet = process.argv.includes('--quiet');

/** What to build: binary name, module directory, package, extra linker flags. */
export const TARGETS = [
  { name: 'etcd', module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', ldflags: '' },
  {
    name: 'kube-apiserver',
    module: 'kube-apiserver',
    pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
    // Stamp the version so /version reports what it is; envtest and clients read it.
    ldflags: '-X k8s.io/component-base/version.gitVersion=v1.36.4 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36',
  },
  { name: 'gardenenv', module: 'gardenenv', pkg: '.', ldflags: '' },
];

const GO_ENV = { GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-trimpath -mod=readonly' };

function log(msg) {
  if (!quiet) process.stderr.write(`[garden build] ${msg}\n`);
}

function cacheRoot() {
  if (process.env.GARDEN_CACHE_DIR) return process.env.GARDEN_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'canary-rollout', 'garden');
}

function goVersion() {
  try {
    return execFileSync('go', ['version'], { env: { ...process.env, ...GO_ENV }, encoding: 'utf8' }).trim();
  } catch (err) {
    throw new Error(`the test garden needs Go >= 1.26 on PATH ('go version' failed: ${err.message})`, { cause: err });
  }
}

function inputFiles(t) {
  const dir = join(here, t.module);
  return readdirSync(dir)
    .sort()
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go'))
    .map((f) => join(dir, f));
}

/** Each binary is cached by the inputs of its own module, so changing gardenenv never relinks kube-apiserver. */
export function targetKey(t, version = goVersion()) {
  const h = createHash('sha256');
  h.update(version + '\n' + JSON.stringify(GO_ENV) + '\n' + JSON.stringify(t) + '\n');
  for (const f of inputFiles(t)) {
    h.update(relative(here, f) + '\0');
    h.update(readFileSync(f));
  }
  return h.digest('hex').slice(0, 16);
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderrTail = '';
    child.stdout.on('data', (d) => (opts.onStdout ?? opts.onLine)?.(d.toString()));
    child.stderr.on('data', (d) => {
      const s = d.toString();
      stderrTail = (stderrTail + s).slice(-8000);
      opts.onLine?.(s);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stderrTail}`))));
  });
}

/** Downloads the module's dependencies (silent in Go, so with a heartbeat) and counts the packages to build. */
async function countDeps(t, env) {
  const started = Date.now();
  const heartbeat = setInterval(() => {
    log(`${t.name}: resolving and downloading modules, ${Math.round((Date.now() - started) / 1000)}s`);
  }, 15_000);
  let out = '';
  try {
    await run('go', ['list', '-deps', t.pkg], { cwd: join(here, t.module), env, onStdout: (d) => (out += d) });
    return out.split('\n').filter(Boolean).length;
  } catch {
    return 0;
  } finally {
    clearInterval(heartbeat);
  }
}

async function buildTarget(t, outDir, env) {
  const total = await countDeps(t, env);
  let compiled = 0;
  let last = '';
  const started = Date.now();
  const heartbeat = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    log(`${t.name}: ${s}s, compiled ${compiled} of ${total} packages (the rest come from Go's build cache)${last ? `, last ${last}` : ''}`);
  }, 15_000);
  try {
    await run('go', ['build', '-v', '-ldflags', `-s -w ${t.ldflags}`.trim(), '-o', join(outDir, t.name), t.pkg], {
      cwd: join(here, t.module),
      env,
      onLine: (chunk) => {
        for (const line of chunk.split('\n')) {
          // `go build -v` names each package as it is compiled; anything else is download or error output.
          if (/^[\w.-]+(\/[\w.@~+-]+)*$/.test(line.trim())) {
            compiled++;
            last = line.trim();
          } else if (line.startsWith('go: downloading')) {
            log(`${t.name}: ${line.trim()}`);
          }
        }
      },
    });
  } finally {
    clearInterval(heartbeat);
  }
  const size = statSync(join(outDir, t.name)).size;
  log(`${t.name}: built in ${Math.round((Date.now() - started) / 1000)}s (${compiled} packages compiled, ${(size / 1e6).toFixed(1)} MB)`);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Returns a directory holding etcd, kube-apiserver and gardenenv, building what is missing first. */
export async function ensureGardenBinaries() {
  const version = goVersion();
  const root = cacheRoot();
  const keys = TARGETS.map((t) => targetKey(t, version));
  const targetPath = (t, i) => join(root, 'targets', `${t.name}-${keys[i]}`, t.name);
  const binDir = join(root, `bin-${createHash('sha256').update(keys.join(',')).digest('hex').slice(0, 16)}`);
  const complete = () => TARGETS.every((t) => existsSync(join(binDir, t.name)));
  if (complete()) {
    touch([binDir, ...TARGETS.map((t, i) => dirname(targetPath(t, i)))]);
    log(`cached: ${binDir}`);
    return binDir;
  }

  mkdirSync(join(root, 'targets'), { recursive: true });
  // A lock directory keeps two concurrent builds (npm test and npm run garden) from racing.
  const lock = join(root, 'build.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8').trim() || 0);
      } catch {
        // the holder is between mkdir and writing its pid
      }
      if (holder && !isAlive(holder)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      log(`waiting for another build (pid ${holder || '?'})`);
      await sleep(5_000);
      if (complete()) return binDir;
    }
  }
  try {
    const env = { ...process.env, ...GO_ENV };
    const started = Date.now();
    const missing = TARGETS.filter((t, i) => !existsSync(targetPath(t, i)));
    if (missing.length) {
      log(`building ${missing.map((t) => t.name).join(', ')} (${version}); a cold build takes 10-20 minutes on 2 cores, later ones seconds`);
    }
    for (const [i, t] of TARGETS.entries()) {
      const out = targetPath(t, i);
      if (existsSync(out)) continue;
      const tmp = `${dirname(out)}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      await buildTarget(t, tmp, env);
      rmSync(dirname(out), { recursive: true, force: true });
      renameSync(tmp, dirname(out));
    }
    // envtest wants etcd and kube-apiserver in one directory, and gardenenv looks next to itself.
    const tmpBin = `${binDir}.tmp-${process.pid}`;
    rmSync(tmpBin, { recursive: true, force: true });
    mkdirSync(tmpBin, { recursive: true });
    TARGETS.forEach((t, i) => symlinkSync(targetPath(t, i), join(tmpBin, t.name)));
    rmSync(binDir, { recursive: true, force: true });
    renameSync(tmpBin, binDir);
    if (missing.length) log(`test garden built in ${Math.round((Date.now() - started) / 1000)}s: ${binDir}`);
    pruneOldBuilds(root, binDir, TARGETS.map((t, i) => dirname(targetPath(t, i))));
    return binDir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps the cache from growing without bound, without pulling binaries from under a concurrent user: several
 * checkouts (git worktrees) of this repository share the cache and may need different gardenenv builds at the
 * same time. Every use touches the current binaries (ensureGardenBinaries); others are removed once unused for
 * PRUNE_AFTER_MS and not being executed by any process.
 */
const PRUNE_AFTER_MS = 3 * 24 * 3600_000;

function pruneOldBuilds(root, binDir, targetDirs) {
  const now = Date.now();
  const running = runningExecutables();
  const stale = (p) => {
    try {
      return now - statSync(p).mtimeMs > PRUNE_AFTER_MS && ![...running].some((exe) => exe.startsWith(p + '/'));
    } catch {
      return false;
    }
  };
  for (const entry of readdirSync(root)) {
    const p = join(root, entry);
    if (entry.startsWith('bin-') && p !== binDir && stale(p)) rmSync(p, { recursive: true, force: true });
    if (/^[0-9a-f]{16}$/.test(entry)) rmSync(p, { recursive: true, force: true }); // layout before per-target keys
  }
  for (const entry of readdirSync(join(root, 'targets'))) {
    const p = join(root, 'targets', entry);
    if (!targetDirs.includes(p) && stale(p)) rmSync(p, { recursive: true, force: true });
  }
}

/** Resolved executables of all processes we can see (their binaries stay in use while they run). */
function runningExecutables() {
  const out = new Set();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.add(readlinkSync(`/proc/${pid}/exe`));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Marks the current build as used, so that another checkout's build does not prune it. */
function touch(paths) {
  const now = new Date();
  for (const p of paths) {
    try {
      utimesSync(p, now, now);
    } catch {
      // best effort
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureGardenBinaries().then(
    (dir) => process.stdout.write(dir + '\n'),
    (err) => {
      process.stderr.write(`[garden build] failed: ${err.message}\n`);
      process.exit(1);
    },
  );
}
