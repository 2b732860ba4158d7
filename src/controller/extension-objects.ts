// The extension's objects: the ControllerDeployment's helm content, the temporary registration and deployment that
// serve released seeds, and the gate that keeps the original registration off them.
import type { Effect } from '../engine/effects.js';
import { RELEASE_VALUE, sameHelm } from '../engine/extension.js';
import type { ControllerRegistration } from '../gardener/api.js';
import { RESOURCES, statusCode, type KubeObject, type ResourceType } from '../kube/client.js';
import { ANNOTATION_ROLLOUT } from './seed-marks.js';
import { CAS_ATTEMPTS, isConflict, type RolloutRef, type WriteContext } from './write-context.js';


/**
 * Temporary registrations and deployments carry their rollout's name in this label; 'true' (written before
 * versions that named the owner) counts as the reader's own, as it did then. Objects without it are nobody's.
 */
function ownedBy(o: { metadata: { labels?: Record<string, string> | undefined } }, rollout: RolloutRef): boolean {
  const owner = o.metadata.labels?.[ANNOTATION_ROLLOUT];
  return owner === rollout.name || owner === 'true';
}

type SeedSelector = NonNullable<NonNullable<ControllerRegistration['spec']['deployment']>['seedSelector']>;

/** The selector without the gate's expression on `label`. */
function withoutGate(sel: SeedSelector | undefined, label: string): SeedSelector {
  return { ...sel, matchExpressions: (sel?.matchExpressions ?? []).filter((e) => !(e.key === label && e.operator === 'DoesNotExist')) };
}

/** An empty selector is no selector (it selects every seed): leave it out. */
function tidy(sel: SeedSelector): SeedSelector | undefined {
  const out: SeedSelector = { ...sel };
  if (!out.matchExpressions?.length) delete out.matchExpressions;
  if (!out.matchLabels || !Object.keys(out.matchLabels).length) delete out.matchLabels;
  return Object.keys(out).length ? out : undefined;
}

export class ExtensionObjects {
  constructor(private readonly w: WriteContext) {}

  /**
   * Replaces the deployment's helm content exactly (a merge patch would merge old values into new ones), as a
   * compare-and-swap against the resourceVersion it was computed from; a conflict re-reads and decides again. With
   * `replaces`, only content equal to it is overwritten: a revert never overwrites someone else's edit (the engine
   * reports it in the status).
   */
  async setDeploymentHelm(name: string, helm: Record<string, unknown>, replaces?: Record<string, unknown>): Promise<void> {
    let cd = this.w.caches.deployment(name);
    for (let attempt = 1; ; attempt++) {
      if (!cd) throw new Error(`ControllerDeployment ${name} not found`);
      if (sameHelm(cd.helm, helm) || (replaces && !sameHelm(cd.helm, replaces))) return;
      this.w.count('controllerDeployment');
      try {
        await this.w.client.jsonPatch(RESOURCES.controllerDeployments, name, [
          { op: 'test', path: '/metadata/resourceVersion', value: cd.metadata.resourceVersion },
          { op: 'add', path: '/helm', value: helm },
        ]);
        this.w.log.info('ControllerDeployment updated', { controllerDeployment: name, revert: replaces !== undefined });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        cd = await this.w.caches.freshDeployment(name);
      }
    }
  }

  async createCanaryRegistration(rollout: RolloutRef, e: Extract<Effect, { type: 'createCanaryRegistration' }>): Promise<void> {
    const labels = { [ANNOTATION_ROLLOUT]: rollout.name };
    const cd = this.w.caches.deployment(e.deployment);
    const existing = this.w.caches.registration(e.registration);
    for (const o of [cd, existing]) {
      if (o && !ownedBy(o, rollout)) {
        throw new Error(
          `${o.metadata.name} belongs to rollout ${o.metadata.labels?.[ANNOTATION_ROLLOUT] ?? '(none)'}: two rollouts of one extension cannot share its temporary registration; ` +
            `if that rollout is gone or was aborted with Freeze, delete ControllerRegistration ${e.registration} and then ControllerDeployment ${e.deployment}`,
        );
      }
    }
    if (!cd) {
      this.w.count('controllerDeployment');
      await this.createIgnoringConflict(RESOURCES.controllerDeployments, { metadata: { name: e.deployment, labels }, helm: e.helm });
    } else {
      await this.setDeploymentHelm(e.deployment, e.helm);
    }
    if (existing) return;
    const from = this.w.caches.registration(e.from);
    if (!from) throw new Error(`ControllerRegistration ${e.from} not found`);
    // a copy of the original (same resources, all non-primary) that selects only the released seeds
    const original = withoutGate(from.spec.deployment?.seedSelector, e.seedLabel);
    const seedSelector = { ...original, matchLabels: { ...original.matchLabels, [e.seedLabel]: RELEASE_VALUE } };
    this.w.count('controllerRegistration');
    await this.createIgnoringConflict(RESOURCES.controllerRegistrations, {
      metadata: { name: e.registration, labels },
      spec: { ...from.spec, deployment: { ...from.spec.deployment, deploymentRefs: [{ name: e.deployment }], seedSelector: tidy(seedSelector) } },
    });
    this.w.log.info('temporary registration created', { registration: e.registration, controllerDeployment: e.deployment, from: e.from });
  }

  private async createIgnoringConflict(rt: ResourceType, body: KubeObject): Promise<void> {
    try {
      await this.w.client.create(rt, body);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  /**
   * Deletes the temporary registration, and its deployment only once no registration refers to it any more. A deleted
   * registration stays under gardener-controller-manager's finalizer until its installations are gone
   * (pkg/controllermanager/controller/controllerregistration/controllerregistrationfinalizer), and removing that
   * finalizer is an update gardener-apiserver admits only while the deployments the registration names exist
   * (plugin/pkg/global/resourcereferencemanager/admission.go: ensureControllerRegistrationReferences). A deployment
   * deleted first keeps the registration forever unless gardener-controller-manager's own rule holds the deployment
   * (pkg/controllermanager/controller/controllerdeployment/controllerdeployment: its finalizer stays while a
   * registration names it); this order does not depend on that controller running, and spares its retries with
   * backoff (it does not watch registrations). Objects already being deleted are left to their finalizers; the
   * registration going is a watch event, and the reconcile it triggers deletes the deployment.
   */
  async deleteCanaryRegistration(rollout: RolloutRef, registration: string, deployment: string): Promise<void> {
    const reg = this.w.caches.registration(registration);
    // a finished rollout keeps asserting its clean-up: it never takes a later rollout's temporary objects with it
    if (reg && !ownedBy(reg, rollout)) return;
    if (reg && !reg.metadata.deletionTimestamp) {
      this.w.count('controllerRegistration');
      await this.w.client.delete(RESOURCES.controllerRegistrations, registration);
      this.w.log.info('temporary registration deleted', { registration });
    }
    const referring = this.w.caches.registrations().filter((r) => r.spec.deployment?.deploymentRefs?.some((d) => d.name === deployment));
    if (referring.length) return;
    const cd = this.w.caches.deployment(deployment);
    if (cd && ownedBy(cd, rollout) && !cd.metadata.deletionTimestamp) {
      this.w.count('controllerDeployment');
      await this.w.client.delete(RESOURCES.controllerDeployments, deployment);
      this.w.log.info('temporary deployment deleted', { controllerDeployment: deployment });
    }
  }

  /**
   * Adds (on) or removes (off) `label DoesNotExist` on the original registration's seedSelector, as a
   * compare-and-swap; a conflict (e.g. gardener-controller-manager adding its finalizer meanwhile) re-reads and
   * decides again.
   */
  async gateRegistration(rollout: RolloutRef, name: string, label: string, on: boolean): Promise<void> {
    // the gate is shared by every rollout of this extension (one release label per ControllerDeployment): a finished
    // rollout does not lift it while another rollout's temporary registration serves the released seeds
    if (!on && this.w.caches.registrations().some((r) => !ownedBy(r, rollout) && r.spec.deployment?.seedSelector?.matchLabels?.[label] !== undefined)) return;
    let reg = this.w.caches.registration(name);
    for (let attempt = 1; ; attempt++) {
      if (!reg) {
        if (on) throw new Error(`ControllerRegistration ${name} not found`);
        return;
      }
      const sel = reg.spec.deployment?.seedSelector;
      const gated = (sel?.matchExpressions ?? []).some((x) => x.key === label && x.operator === 'DoesNotExist');
      if (gated === on) return;
      const rest = withoutGate(sel, label);
      const want = tidy(on ? { ...rest, matchExpressions: [...(rest.matchExpressions ?? []), { key: label, operator: 'DoesNotExist' }] } : rest);
      this.w.count('controllerRegistration');
      try {
        await this.w.client.jsonPatch(RESOURCES.controllerRegistrations, name, [
          { op: 'test', path: '/metadata/resourceVersion', value: reg.metadata.resourceVersion },
          want ? { op: 'add', path: '/spec/deployment/seedSelector', value: want } : { op: 'remove', path: '/spec/deployment/seedSelector' },
        ]);
        this.w.log.info(on ? 'registration kept off released seeds' : 'registration selector restored', { registration: name, label });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= CAS_ATTEMPTS) throw err;
        reg = await this.w.caches.freshRegistration(name);
      }
    }
  }

}
