// The live simulator's gardenlet side of ControllerInstallations, which Gardener's own controllers create, repoint
// and delete in the test garden: gardenlet's installation, care and required controllers
// (pkg/gardenlet/controller/controllerinstallation/...). What it installed per seed also decides whether shoots there
// are due for a reconcile (a new extension version) and whether they turn unhealthy (a faulty one).
import { ControllerInstallation, type Condition, type ControllerDeployment, type ControllerRegistration, type Seed } from '../gardener/api.js';
import { RESOURCES, statusCode } from '../kube/client.js';
import { mapLimit } from '../util/concurrency.js';
import { GARDENLET_INSTALLATION_FINALIZER, isHandledRegistration, neededKindTypesBySeed, requiredKindTypes, type ExtensionShoot } from './installations.js';
import { chartVersion } from './landscape-objects.js';
import type { LiveContext } from './live-options.js';
import {
  installationApplyingConditions,
  installationCareConditions,
  installationRequiredCondition,
  installationRollingOutConditions,
  mergeConditions,
  sameConditions,
  updatedCondition,
} from './status.js';

/** What gardenlet installed for one ControllerInstallation: the deployment revision and its chart version. */
interface Installed {
  resourceVersion: string;
  version: string | undefined;
}

export class SimulatedInstallations {
  /** gardenlet's memory per ControllerInstallation name: what it installed, and a rollout in flight. */
  private readonly installed = new Map<string, Installed>();
  private readonly installing = new Map<string, { resourceVersion: string; at: number }>();
  /** Installations whose deletion gardenlet is working on: when it releases its finalizer. */
  private readonly uninstalling = new Map<string, number>();
  /** When gardenlet's installation care controller last looked at each installation. */
  private readonly caredAt = new Map<string, number>();
  /** Per seed, when an installation last finished rolling out there: shoots reconciled before are due. */
  private readonly changedAt = new Map<string, number>();

  constructor(private readonly c: LiveContext) {}

  /** When an installation last finished rolling out on the seed. */
  seedChangedAt(seed: string): number | undefined {
    return this.changedAt.get(seed);
  }

  /** The installations Gardener's controllers made for the handled registrations on this landscape's seeds. */
  observed(handled: readonly string[], seeds: readonly Seed[], installations: readonly ControllerInstallation[]): ControllerInstallation[] {
    const seedNames = new Set(seeds.map((s) => s.metadata.name));
    const mine = installations.filter((i) => isHandledRegistration(i.spec.registrationRef.name, handled) && seedNames.has(i.spec.seedRef?.name ?? ''));
    const present = new Set(mine.map((i) => i.metadata.name));
    for (const name of new Set([...this.installed.keys(), ...this.installing.keys(), ...this.uninstalling.keys(), ...this.caredAt.keys()])) if (!present.has(name)) this.forget(name);
    return mine;
  }

  /**
   * gardenlet's installation, care and required controllers (pkg/gardenlet/controller/controllerinstallation/...):
   * a revision it has not installed is applied at once and rolled out after the upgrade delay, unhealthy when the
   * faulty version lands on a not-ready seed; an installed one is looked at again every care period; a deleted one
   * keeps gardenlet's finalizer until its resources are gone (after the upgrade delay). Only changed conditions are
   * written.
   */
  async install(
    installations: readonly ControllerInstallation[],
    seeds: readonly Seed[],
    shoots: readonly ExtensionShoot[],
    registrations: readonly ControllerRegistration[],
    deployments: readonly ControllerDeployment[],
    now: number,
  ): Promise<void> {
    const delay = this.c.o.upgradeDelayMs ?? 2000;
    const deploymentByName = new Map(deployments.map((d) => [d.metadata.name, d]));
    const registrationByName = new Map(registrations.map((r) => [r.metadata.name, r]));
    const needed = neededKindTypesBySeed(seeds, shoots);
    const at = new Date(now);
    await mapLimit(installations, this.c.o.concurrency ?? 16, async (inst) => {
      const name = inst.metadata.name;
      const ref = inst.spec.deploymentRef;
      const seed = inst.spec.seedRef?.name;
      if (!seed) return;
      if (inst.metadata.deletionTimestamp) return this.uninstall(inst, now);
      if (!inst.metadata.finalizers?.includes(GARDENLET_INSTALLATION_FINALIZER)) {
        if (!(await this.patchFinalizers(inst, true))) return;
      }
      const rv = ref?.resourceVersion;
      if (!ref || !rv) return;
      const required = installationRequiredCondition(inst.status?.conditions, requiredKindTypes(registrationByName.get(inst.spec.registrationRef.name), needed.get(seed)), at);
      let conditions: Condition[] | undefined;
      if (this.installed.get(name)?.resourceVersion !== rv) {
        const pending = this.installing.get(name);
        if (pending?.resourceVersion !== rv) {
          this.installing.set(name, { resourceVersion: rv, at: now + delay });
          conditions = installationApplyingConditions(inst.status?.conditions, `extension-${name}`, at);
        } else if (now >= pending.at) {
          const version = chartVersion(deploymentByName.get(ref.name)?.helm?.ociRepository);
          this.installing.delete(name);
          this.installed.set(name, { resourceVersion: rv, version });
          this.changedAt.set(seed, now);
          this.c.stats.installationsRolledOut++;
          this.c.log.info('controller installation rolled out', { installation: name, seed, version, healthy: this.healthy(version, seed) });
        }
      }
      // the care controller's periodic sync is the only writer of Installed True, Healthy and Progressing
      if (!conditions && now - (this.caredAt.get(name) ?? -Infinity) >= (this.c.o.careSyncMs ?? 2000)) {
        this.caredAt.set(name, now);
        const done = this.installed.get(name)?.resourceVersion === rv;
        conditions = done
          ? installationCareConditions(inst.status?.conditions, this.healthy(this.installed.get(name)?.version, seed), at)
          : installationRollingOutConditions(inst.status?.conditions, `extension-${name}`, at);
      }
      const next = mergeConditions(conditions ?? inst.status?.conditions, required);
      if (!sameConditions(inst.status?.conditions, next)) {
        await this.c.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: next } });
      }
    });
  }

  /** Whether the simulator's gardenlet on `seed` runs an installed extension of the faulty version. */
  faultyOn(seed: string, installations: readonly ControllerInstallation[]): boolean {
    const faults = this.c.o.faults ?? {};
    if (!faults.faultyVersion || (faults.faultySeeds?.length && !faults.faultySeeds.includes(seed))) return false;
    return installations.some((inst) => {
      if (inst.spec.seedRef?.name !== seed) return false;
      const installed = this.installed.get(inst.metadata.name);
      return !!installed && installed.resourceVersion === inst.spec.deploymentRef?.resourceVersion && installed.version === faults.faultyVersion;
    });
  }

  private healthy(version: string | undefined, seed: string): boolean {
    const faults = this.c.o.faults ?? {};
    return !(version !== undefined && version === faults.faultyVersion && faults.notReadySeeds?.includes(seed));
  }

  /**
   * Adds or releases gardenlet's finalizer, on the version read (a conflict reads again, at most 3 times). False
   * when the installation is gone.
   */
  private async patchFinalizers(inst: ControllerInstallation, add: boolean): Promise<boolean> {
    let current = inst;
    for (let attempt = 1; ; attempt++) {
      const others = (current.metadata.finalizers ?? []).filter((f) => f !== GARDENLET_INSTALLATION_FINALIZER);
      const finalizers = add ? [...others, GARDENLET_INSTALLATION_FINALIZER] : others;
      try {
        await this.c.client.patch(RESOURCES.controllerInstallations, current.metadata.name, { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers } });
        return true;
      } catch (err) {
        if (statusCode(err) === 404) return false;
        if (statusCode(err) !== 409 || attempt === 3) throw err;
      }
      const fresh = await this.c.client.tryGet(RESOURCES.controllerInstallations, ControllerInstallation, current.metadata.name);
      if (!fresh) return false;
      current = fresh;
    }
  }

  /** gardenlet's delete path: DeletionPending while its resources go, then its finalizer is released. */
  private async uninstall(inst: ControllerInstallation, now: number): Promise<void> {
    const name = inst.metadata.name;
    if (!inst.metadata.finalizers?.includes(GARDENLET_INSTALLATION_FINALIZER)) return;
    const due = this.uninstalling.get(name);
    if (due === undefined) {
      this.uninstalling.set(name, now + (this.c.o.upgradeDelayMs ?? 2000) / 2);
      const pending = updatedCondition(inst.status?.conditions?.find((c) => c.type === 'Installed'), 'Installed', 'False', 'DeletionPending', `Deletion of ManagedResource "extension-${name}" is still pending.`, new Date(now));
      await this.c.client.patchStatus(RESOURCES.controllerInstallations, name, { status: { conditions: mergeConditions(inst.status?.conditions, pending) } });
      return;
    }
    if (now < due) return;
    await this.patchFinalizers(inst, false);
    this.forget(name);
    this.c.stats.installationsDeleted++;
    this.c.log.info('controller installation uninstalled', { installation: name });
  }

  private forget(installation: string): void {
    this.installed.delete(installation);
    this.installing.delete(installation);
    this.uninstalling.delete(installation);
    this.caredAt.delete(installation);
  }
}
