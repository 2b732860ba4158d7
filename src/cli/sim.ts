// npm run sim -- --kubeconfig PATH --seeds N --shoots M [--prefix sim] [--faulty-version V --unhealthy-ratio R
//                 --faulty-seeds a,b --not-ready-seeds c --slow-reconcile-ms 5000] [--extensions name1,name2]
// Creates a landscape of that size in the garden (or reuses the one with that prefix) and plays its gardenlets
// through the real API until interrupted. --extensions names the ControllerRegistrations whose
// ControllerInstallations it plays gardenlet's side of (and their `<name>-canary` registrations); creating and
// repointing them is left to gardener-controller-manager (the test garden runs it: gardenenv --controllers).
import { KubeClient, loadKubeConfig, RESOURCES } from '../kube/client.js';
import { Seed } from '../gardener/api.js';
import { createLandscape } from '../sim/landscape-create.js';
import { LABEL_LANDSCAPE } from '../sim/landscape-plan.js';
import { LiveSimulator } from '../sim/live.js';
import { createLogger } from '../util/log.js';
import * as z from 'zod';
import { parseArgs } from 'node:util';

const Args = z.strictObject({
  kubeconfig: z.string().min(1),
  seeds: z.coerce.number().int().min(1).max(2000).default(10),
  shoots: z.coerce.number().int().min(0).max(100000).default(100),
  prefix: z.string().regex(/^[a-z][a-z0-9]{0,5}$/).default('sim'),
  'faulty-version': z.string().optional(),
  'unhealthy-ratio': z.coerce.number().min(0).max(1).optional(),
  'faulty-seeds': z.string().optional(),
  'not-ready-seeds': z.string().optional(),
  'slow-reconcile-ms': z.coerce.number().int().min(0).optional(),
  extensions: z.string().optional(),
  version: z.string().default('v1.149.0'),
});

/** Every flag takes a value; zod (Args) checks and converts it. */
const OPTIONS = Object.fromEntries(Object.keys(Args.shape).map((k) => [k, { type: 'string' as const }]));

function parse(argv: string[]): z.infer<typeof Args> {
  // strict: an unknown flag, a flag without a value or a positional argument is an error
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  const r = Args.safeParse(values);
  if (!r.success) throw new Error(`invalid arguments: ${r.error.issues.map((i) => `--${String(i.path[0] ?? '')}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const log = createLogger().with({ component: 'landscape-simulator' });
  const client = new KubeClient(loadKubeConfig(args.kubeconfig), 'landscape-simulator');
  const existing = await client.list(RESOURCES.seeds, Seed, { labelSelector: `${LABEL_LANDSCAPE}=${args.prefix}` });
  if (existing.length === 0) {
    const providers = ['aws', 'gcp', 'azure'].map((type) => ({ type, regions: ['eu-1', 'us-1'] }));
    const perRegion = Math.max(1, Math.ceil(args.seeds / 6));
    const { plan, timings } = await createLandscape(client, {
      prefix: args.prefix,
      providers,
      seedsPerRegion: perRegion,
      managedSeeds: Math.floor((perRegion * 6) / 10),
      projects: 12,
      shootsPerSeed: Math.max(0, Math.round(args.shoots / (perRegion * 6))),
      hibernateEvery: 10,
      gardenerVersion: args.version,
    });
    log.info('landscape created', { seeds: plan.seeds.length, shoots: plan.shoots.length, timingsMs: timings });
  } else {
    log.info('reusing landscape', { prefix: args.prefix, seeds: existing.length });
  }
  const list = (s: string | undefined) => (s ? s.split(',').filter(Boolean) : undefined);
  const faultySeeds = list(args['faulty-seeds']);
  const notReadySeeds = list(args['not-ready-seeds']);
  const faults = {
    ...(args['faulty-version'] ? { faultyVersion: args['faulty-version'] } : {}),
    ...(args['unhealthy-ratio'] !== undefined ? { unhealthyRatio: args['unhealthy-ratio'] } : {}),
    ...(faultySeeds ? { faultySeeds } : {}),
    ...(notReadySeeds ? { notReadySeeds } : {}),
    ...(args['slow-reconcile-ms'] ? { slowReconcileMs: args['slow-reconcile-ms'] } : {}),
  };
  const extensions = list(args.extensions);
  const sim = new LiveSimulator(client, log, {
    prefix: args.prefix,
    faults,
    tickMs: 1000,
    upgradeDelayMs: 5000,
    spreadMs: 30_000,
    ...(extensions ? { extensions: { registrations: extensions } } : {}),
  });
  sim.start();
  log.info('simulating; Ctrl-C stops', { prefix: args.prefix, faults, extensions });
  const stop = async () => {
    await sim.stop();
    client.kubeConfig.close();
    log.info('simulator stopped', sim.stats);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
