// What the engine asks the outside world to do, as plain data. The controller (an edge) applies them
// idempotently; the simulator applies them to a simulated landscape. Nothing here performs I/O.
import type { OCIRepository } from '../api/v1alpha1.js';

export type Effect =
  /** Annotate a planned seed with its rollout and wave (annotations survive gardenlet restarts; labels do not). */
  | { type: 'markSeed'; seed: string; wave: string; canary: boolean }
  /** gardenlet target: write the new chart into the seed's Gardenlet (managed seeds below it follow). */
  | { type: 'promoteSeed'; seed: string; ociRepository: OCIRepository; version: string }
  /** extension target: keep a seed from running the new version (Gardener's emergency-stop annotation). */
  | { type: 'holdSeed'; seed: string }
  /** extension target: let a seed's shoots run the new version. */
  | { type: 'releaseSeed'; seed: string }
  /** extension target: replace the ControllerDeployment's helm content (the new version, or the previous one on revert). */
  | { type: 'updateControllerDeployment'; name: string; helm: Record<string, unknown> }
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
  /** Pull shoot reconciliations forward on a seed (gardener.cloud/operation=reconcile), rate-limited. */
  | { type: 'triggerShootReconciles'; seed: string; maxPerMinute: number }
  /** Halt: stop shoot reconciliations on a seed. */
  | { type: 'emergencyStopSeed'; seed: string }
  /** Resume after a halt: allow shoot reconciliations on a seed again. */
  | { type: 'clearEmergencyStop'; seed: string }
  /** RevertAll: restore the seed's previous chart (gardenlet) or version. */
  | { type: 'revertSeed'; seed: string; previousVersion: string | undefined; previousRef?: OCIRepository }
  /** A Kubernetes event on the CanaryRollout. */
  | { type: 'emitEvent'; eventType: 'Normal' | 'Warning'; reason: string; message: string };
