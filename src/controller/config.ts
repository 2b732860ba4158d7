// Controller configuration from flags and environment, validated with zod: a bad value stops the start with a
// message naming the flag.
import * as z from 'zod';

export const Config = z
  .strictObject({
  kubeconfig: z.string().min(1).optional().describe('path of the garden kubeconfig (default: $KUBECONFIG, then in-cluster)'),
  metricsPort: z.coerce.number().int().min(0).max(65535).default(8080).describe('port of /metrics, /healthz and /readyz (0: pick one)'),
  logLevel: z.enum(['debug', 'info', 'error']).default('info'),
  resyncSeconds: z.coerce.number().int().min(10).max(86400).default(600).describe('period at which every rollout is reconciled again from the caches (no API call; a cache relists only when the server says 410 Gone)'),
  requestTimeoutSeconds: z.coerce.number().int().min(1).max(600).default(30).describe('timeout of every API request but watches'),
  workers: z.coerce.number().int().min(1).max(64).default(4).describe('rollouts reconciled at the same time (one rollout is never reconciled twice at once)'),
  cacheStaleSeconds: z.coerce.number().int().min(5).max(3600).default(30).describe('a cache not confirmed fresh for this long holds every promotion, gate pass and bake end (condition InputsStale); halts still happen'),
  stuckReconcileSeconds: z.coerce.number().int().min(10).max(86400).default(300).describe('/healthz fails while a reconcile has run longer than this, so that the kubelet restarts a wedged pod'),
  leaseNamespace: z.string().min(1).default('garden'),
  leaseName: z.string().min(1).default('canary-rollout-controller'),
  leaseDurationSeconds: z.coerce.number().min(1).max(3600).default(15).describe('how long a standby waits, from when it last saw the lease change, before it takes the lease'),
  renewDeadlineSeconds: z.coerce.number().min(0.5).max(3600).default(10).describe('a leader that could not renew for this long stops leading and writing'),
  retryPeriodSeconds: z.coerce.number().min(0.1).max(600).default(2).describe('period of lease renewals and acquisition attempts'),
  identity: z.string().min(1).optional(),
  listPageSize: z.coerce.number().int().min(10).max(5000).default(100).describe('objects per page of a cache\'s LIST (at start-up and after 410 Gone): smaller pages keep the peak memory of a sync low, larger ones take fewer requests'),
  rolloutSelector: z.string().min(1).optional().describe('label selector: reconcile only matching CanaryRollouts (sharding, tests)'),
  installCRD: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .describe('install or update the CanaryRollout CRD at start-up (deploy/ sets false: the CRD comes with the manifests, and RBAC grants no CRD writes)'),
  })
  // client-go's leaderelection.NewLeaderElector refuses the same: a leader must give up before its lease can expire
  // on the server, and must get more than one renewal attempt in before it gives up
  .refine((c) => c.renewDeadlineSeconds < c.leaseDurationSeconds, { path: ['renewDeadlineSeconds'], message: 'must be less than --lease-duration-seconds' })
  .refine((c) => c.retryPeriodSeconds * 1.2 < c.renewDeadlineSeconds, { path: ['retryPeriodSeconds'], message: 'times 1.2 must be less than --renew-deadline-seconds' });
export type Config = z.infer<typeof Config>;

const FLAGS: Record<string, keyof Config> = {
  '--kubeconfig': 'kubeconfig',
  '--metrics-port': 'metricsPort',
  '--log-level': 'logLevel',
  '--resync-seconds': 'resyncSeconds',
  '--request-timeout-seconds': 'requestTimeoutSeconds',
  '--workers': 'workers',
  '--cache-stale-seconds': 'cacheStaleSeconds',
  '--stuck-reconcile-seconds': 'stuckReconcileSeconds',
  '--lease-namespace': 'leaseNamespace',
  '--lease-name': 'leaseName',
  '--lease-duration-seconds': 'leaseDurationSeconds',
  '--renew-deadline-seconds': 'renewDeadlineSeconds',
  '--retry-period-seconds': 'retryPeriodSeconds',
  '--identity': 'identity',
  '--list-page-size': 'listPageSize',
  '--rollout-selector': 'rolloutSelector',
  '--install-crd': 'installCRD',
};
const ENV: Record<string, keyof Config> = {
  KUBECONFIG: 'kubeconfig',
  METRICS_PORT: 'metricsPort',
  LOG_LEVEL: 'logLevel',
  RESYNC_SECONDS: 'resyncSeconds',
  LEASE_NAMESPACE: 'leaseNamespace',
  LEASE_NAME: 'leaseName',
  POD_NAME: 'identity',
};

/** Flags win over environment variables. Throws an Error listing every bad value. */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  const raw: Record<string, string> = {};
  for (const [k, field] of Object.entries(ENV)) {
    const value = env[k];
    if (value) raw[field] = value;
  }
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split('=', 2);
    const field = FLAGS[flag];
    if (!field) throw new Error(`unknown flag ${flag}; known flags: ${Object.keys(FLAGS).join(', ')}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`flag ${flag} needs a value`);
    raw[field] = value;
  }
  const r = Config.safeParse(raw);
  if (!r.success) {
    const flagOf = (f: PropertyKey) => Object.entries(FLAGS).find(([, v]) => v === f)?.[0] ?? String(f);
    throw new Error(`invalid configuration: ${r.error.issues.map((i) => `${flagOf(i.path[0] ?? '')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}
