// Seed marks, emergency stops, seed labels and gardenlet charts. Marks are annotations (they survive gardenlet
// restarts) and labels (for `kubectl get seeds -l`; gardenlet resets Seed labels to its seedConfig at start-up, and
// the next reconcile puts them back).
// An emergency stop is only ever removed by the rollouts that set it: ANNOTATION_STOPPED_BY lists them (sorted,
// comma-separated), so rollouts whose seeds overlap (a gardenlet halt and an extension gate, say) each keep their
// hold, and the stop goes only when the last of them lets go. A stop without that annotation is an operator's.
import * as z from 'zod';
import type { OCIRepository } from '../api/fields.js';
import { sameOCIRef } from '../engine/desired.js';
import { ANNOTATION_EMERGENCY_STOP } from '../gardener/api.js';
import { RESOURCES } from '../kube/client.js';
import { annotationOps, CAS_ATTEMPTS, GARDEN_NAMESPACE, isConflict, type RolloutRef, type WriteContext } from './write-context.js';

export const ANNOTATION_ROLLOUT = 'canary.gardener.cloud/rollout';
export const ANNOTATION_WAVE = 'canary.gardener.cloud/wave';
export const ANNOTATION_CANARY = 'canary.gardener.cloud/canary';
export const ANNOTATION_STOPPED_BY = 'canary.gardener.cloud/emergency-stop-by';
/** Labels of canary membership, for `kubectl get seeds -l canary.gardener.cloud/canary=true -L canary.gardener.cloud/wave`. */
export const LABEL_CANARY = 'canary.gardener.cloud/canary';
export const LABEL_WAVE = 'canary.gardener.cloud/wave';

/** Rollouts holding a seed's emergency stop. */
const holders = (a: Record<string, string>): string[] => (a[ANNOTATION_STOPPED_BY] ?? '').split(',').filter(Boolean);

/** The labels of a gardenlet configuration's seedConfig. */
const SeedConfigLabels = z.object({ seedConfig: z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()) }) }) });
const seedConfigLabels = (config: unknown): Record<string, string> => {
  const r = SeedConfigLabels.safeParse(config);
  return r.success ? r.data.seedConfig.metadata.labels : {};
};

/** The OCI repository as a merge patch: fields not in `want` are removed (ref and repository exclude each other). */
function ociPatch(want: OCIRepository): Record<string, string | null> {
  return { ref: want.ref ?? null, repository: want.repository ?? null, tag: want.tag ?? null, digest: want.digest ?? null };
}

export class SeedMarks {
  constructor(private readonly w: WriteContext) {}

  /**
   * Sets or removes a seed label on the Seed (effective now) and in its seedConfig (gardenlet resets Seed labels
   * to the seedConfig at start-up, so only that makes the label durable).
   */
  async label(seed: string, key: string, value: string | null): Promise<void> {
    const s = this.w.caches.seed(seed);
    if (!s) return;
    if ((s.metadata.labels?.[key] ?? null) !== value) {
      this.w.count('seedLabels');
      await this.w.client.patch(RESOURCES.seeds, seed, { metadata: { labels: { [key]: value } } });
    }
    const g = this.w.caches.gardenlet(seed);
    const m = g ? undefined : this.w.caches.managedSeed(seed);
    const config = g ? g.spec.config : m?.spec.gardenlet?.config;
    if (!config || (seedConfigLabels(config)[key] ?? null) === value) return;
    const labels = { seedConfig: { metadata: { labels: { [key]: value } } } };
    this.w.count('seedConfig');
    if (g) await this.w.client.patch(RESOURCES.gardenlets, seed, { spec: { config: labels } }, GARDEN_NAMESPACE);
    else await this.w.client.patch(RESOURCES.managedSeeds, seed, { spec: { gardenlet: { config: labels } } }, GARDEN_NAMESPACE);
  }

  /** Merge-patches the seed's annotations and labels that differ from `want` (null removes). */
  private async patchSeedMeta(seed: string, want: { annotations?: Record<string, string | null>; labels?: Record<string, string | null> }): Promise<void> {
    const s = this.w.caches.seed(seed);
    if (!s) return;
    const diff = (cur: Record<string, string> | undefined, w: Record<string, string | null> | undefined) =>
      Object.fromEntries(Object.entries(w ?? {}).filter(([k, v]) => (cur?.[k] ?? null) !== v));
    const annotations = diff(s.metadata.annotations, want.annotations);
    const labels = diff(s.metadata.labels, want.labels);
    if (!Object.keys(annotations).length && !Object.keys(labels).length) return;
    this.w.count(Object.keys(labels).length ? 'seedLabels' : 'seedAnnotations');
    await this.w.client.patch(RESOURCES.seeds, seed, { metadata: { ...(Object.keys(annotations).length ? { annotations } : {}), ...(Object.keys(labels).length ? { labels } : {}) } });
  }

  /** Marks a seed as this rollout's, unless another rollout marked it first (it keeps its marks until it lets go). */
  async mark(rollout: RolloutRef, seed: string, wave: string, canary: boolean): Promise<void> {
    const owner = this.w.caches.seed(seed)?.metadata.annotations?.[ANNOTATION_ROLLOUT];
    if (owner !== undefined && owner !== rollout.name) return;
    await this.patchSeedMeta(seed, {
      annotations: { [ANNOTATION_ROLLOUT]: rollout.name, [ANNOTATION_WAVE]: wave, [ANNOTATION_CANARY]: canary ? 'true' : null },
      labels: { [LABEL_WAVE]: wave, [LABEL_CANARY]: canary ? 'true' : null },
    });
  }

  async unmark(rollout: RolloutRef, seed: string): Promise<void> {
    if (this.w.caches.seed(seed)?.metadata.annotations?.[ANNOTATION_ROLLOUT] !== rollout.name) return;
    await this.patchSeedMeta(seed, {
      annotations: { [ANNOTATION_ROLLOUT]: null, [ANNOTATION_WAVE]: null, [ANNOTATION_CANARY]: null },
      labels: { [LABEL_WAVE]: null, [LABEL_CANARY]: null },
    });
  }

  /** Writes the seed's Gardenlet chart; with `replaces`, only over that chart (a revert leaves someone else's edit). */
  async setGardenletChart(seed: string, want: OCIRepository, replaces?: OCIRepository): Promise<void> {
    const g = this.w.caches.gardenlet(seed);
    if (!g) return; // managed seeds have no Gardenlet object: they follow their parent
    const current = g.spec.deployment?.helm?.ociRepository;
    if (sameOCIRef(current, want) || (replaces && !sameOCIRef(current, replaces))) return;
    this.w.count('gardenletChart');
    await this.w.client.patch(RESOURCES.gardenlets, seed, { spec: { deployment: { helm: { ociRepository: ociPatch(want) } } } }, GARDEN_NAMESPACE);
  }

  /**
   * Adds or removes this rollout in the seed's emergency-stop holders, as a compare-and-swap against the
   * resourceVersion the change was computed from: a holder someone else added meanwhile (another rollout, an
   * operator keeping the seed stopped) is never dropped. A conflict re-reads the seed and computes again.
   */
  async changeHolders(rollout: RolloutRef, seed: string, hold: boolean): Promise<void> {
    let s = this.w.caches.seed(seed);
    for (let attempt = 1; s; attempt++) {
      const a = s.metadata.annotations ?? {};
      const by = holders(a);
      const stopped = a[ANNOTATION_EMERGENCY_STOP] === 'true';
      let want: Record<string, string | null> | undefined;
      if (hold) {
        // a stop nobody is recorded for is an operator's: it stays theirs, and it already stops the seed
        if (stopped && (by.length === 0 || by.includes(rollout.name))) return;
        want = { [ANNOTATION_EMERGENCY_STOP]: 'true', [ANNOTATION_STOPPED_BY]: [...new Set([...by, rollout.name])].sort().join(',') };
      } else {
        if (!by.includes(rollout.name)) return; // never lift a stop we did not set
        const rest = by.filter((n) => n !== rollout.name);
        want = rest.length ? { [ANNOTATION_STOPPED_BY]: rest.join(',') } : { [ANNOTATION_EMERGENCY_STOP]: null, [ANNOTATION_STOPPED_BY]: null };
      }
      this.w.count('seedAnnotations');
      try {
        await this.w.client.jsonPatch(RESOURCES.seeds, seed, [{ op: 'test', path: '/metadata/resourceVersion', value: s.metadata.resourceVersion }, ...annotationOps(a, want)]);
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        s = await this.w.caches.freshSeed(seed);
      }
    }
  }

  /** Removes every mark and emergency stop this rollout set (finalizer); versions stay where they are. */
  async cleanup(rollout: RolloutRef): Promise<number> {
    let n = 0;
    for (const seed of this.w.caches.seeds()) {
      const a = seed.metadata.annotations ?? {};
      const mine = a[ANNOTATION_ROLLOUT] === rollout.name;
      const holds = holders(a).includes(rollout.name);
      if (mine) await this.unmark(rollout, seed.metadata.name);
      if (holds) await this.changeHolders(rollout, seed.metadata.name, false);
      if (mine || holds) n++;
    }
    return n;
  }
}
