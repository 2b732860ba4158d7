// What the live simulator (live.ts) is told: timings and faults, and the counters it keeps. Its parts (gardenlets,
// installations, shoots) share them through a LiveContext.
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../util/log.js';

export interface LiveFaults {
  faultyVersion?: string;
  /**
   * Share of a faulty seed's awake shoots whose reconcile on the faulty version ends unhealthy: exactly
   * ceil(ratio x shoots on the seed), picked by a stable per-shoot draw, so a small landscape never draws none.
   */
  unhealthyRatio?: number;
  /** Limit the faulty version's effect to these seeds (default: all). */
  faultySeeds?: string[];
  /** Seeds that do not become ready after taking the faulty version. */
  notReadySeeds?: string[];
  /** Extra time a reconcile takes. */
  slowReconcileMs?: number;
}

export interface LiveOptions {
  prefix?: string;
  tickMs?: number;
  upgradeDelayMs?: number;
  spreadMs?: number;
  faults?: LiveFaults;
  concurrency?: number;
  /**
   * Play gardenlet's side of the ControllerInstallations of these ControllerRegistrations (and of the
   * `<name>-canary*` registrations a rollout creates for them). Without it, installations are left alone.
   */
  extensions?: { registrations: string[] };
  /** gardenlet's installation care controller period (Gardener's default: 30 s). Default 2 s. */
  careSyncMs?: number;
  /** From a successful shoot reconcile to the shoot care controller's verdict on its conditions. Default 500 ms. */
  careDelayMs?: number;
  /** Between the retries of a failed shoot reconcile. Default 5 s. */
  retryMs?: number;
  /**
   * How long a retry runs (Processing with the previous lastErrors) before its outcome is written. Default 0: the next
   * round. A real reconcile takes minutes, so a failing shoot is mostly seen retrying, rarely in Error.
   */
  retryRunMs?: number;
  /**
   * gardenlet's heartbeat (pkg/gardenlet/controller/lease): renew a Lease named after each seed in
   * gardener-system-seed-lease every `leaseResyncMs` (gardenlet's default: 2 s; here 10 s by default, well inside
   * Gardener's 40 s monitor period, to spare the API at landscape scale). Gardener's gardenlet lifecycle controller
   * marks a seed GardenletReady=Unknown when it is not renewed; `staleLeaseSeeds` stop renewing. On by default, as
   * every gardenlet renews its Lease; `false` switches it off.
   */
  gardenletLeases?: { leaseResyncMs?: number; staleLeaseSeeds?: string[] } | false;
}

/** Counters for tests and logs (a type, not an interface: it is logged as structured fields). */
export type LiveStats = {
  seedUpgrades: number;
  reconciles: number;
  unhealthy: number;
  ticks: number;
  installationsDeleted: number;
  installationsRolledOut: number;
  leaseRenewals: number;
};

/** What the simulator's parts share: the garden they write to, their options, and the counters. */
export interface LiveContext {
  client: KubeClient;
  log: Logger;
  o: LiveOptions;
  stats: LiveStats;
}
