// The writes that converge the garden to what a rollout owes it (desired.ts: convergeEffects), as plain data. The
// controller (an edge) applies them idempotently, skipping what is already so; the simulator applies them to a
// simulated landscape. They are re-derived and re-applied on every reconcile. Nothing here performs I/O.
import type { OCIRepository } from '../api/fields.js';

/** The gardener.cloud/operation a rollout asks for on a shoot: reconcile, or retry when its last operation Failed. */
export type ShootOperation = 'reconcile' | 'retry';

export type Effect =
  /**
   * Mark a planned seed with its rollout and wave: annotations (they survive gardenlet restarts) and the labels
   * `canary.gardener.cloud/canary` and `/wave` (gardenlet resets Seed labels at start-up; convergence restores them).
   * A seed another rollout has marked already keeps that rollout's marks.
   */
  | { type: 'markSeed'; seed: string; wave: string; canary: boolean }
  /** Remove this rollout's marks from a seed (only if they are this rollout's). */
  | { type: 'unmarkSeed'; seed: string }
  /** gardenlet target: write the new chart into the seed's Gardenlet (managed seeds below it follow). */
  | { type: 'promoteSeed'; seed: string; ociRepository: OCIRepository; version: string }
  /** RevertAll: restore the seed's previous chart, only over the chart the rollout wrote (`replaces`). */
  | { type: 'revertSeed'; seed: string; previousVersion: string | undefined; previousRef?: OCIRepository; replaces?: OCIRepository }
  /** extension target: replace the ControllerDeployment's helm content; with `replaces`, only over that content. */
  | { type: 'updateControllerDeployment'; name: string; helm: Record<string, unknown>; replaces?: Record<string, unknown> }
  /**
   * SeedSelector: create the temporary ControllerDeployment (new content) and ControllerRegistration (a copy of
   * `from` that selects seeds carrying `seedLabel`).
   */
  | { type: 'createCanaryRegistration'; registration: string; deployment: string; from: string; helm: Record<string, unknown>; seedLabel: string }
  /** SeedSelector: delete the temporary registration and deployment. */
  | { type: 'deleteCanaryRegistration'; registration: string; deployment: string }
  /** SeedSelector: keep the original registration off seeds carrying `seedLabel` (on), or stop doing so (off). */
  | { type: 'gateRegistration'; registration: string; seedLabel: string; on: boolean }
  /** SeedSelector: set (value) or remove (null) a seed label, on the Seed and in its seedConfig (durable). */
  | { type: 'labelSeed'; seed: string; key: string; value: string | null }
  /**
   * Ask Gardener to reconcile these shoots (gardener.cloud/operation=reconcile, or retry for a Failed shoot), at most
   * maxPerMinute in all; `pending` requests of the same rollout are at Gardener already and count against the rate.
   */
  | { type: 'requestShootReconciles'; shoots: { namespace: string; name: string; operation: ShootOperation }[]; pending: number; maxPerMinute: number }
  /** Hold Gardener's emergency stop on a seed's shoot reconciliations (a halt, or a reconcile gate's hold). */
  | { type: 'emergencyStopSeed'; seed: string }
  /** Let go of this rollout's emergency stop on a seed (the stop goes when its last holder lets go). */
  | { type: 'clearEmergencyStop'; seed: string }
  /** A Kubernetes event on the CanaryRollout. */
  | { type: 'emitEvent'; eventType: 'Normal' | 'Warning'; reason: string; message: string };
