// When deleting a CanaryRollout may go ahead, and what it undoes. Deleting removes the rollout's marks and lets go
// of its emergency stops; it never changes versions. A rollout whose new version is live and gated (or whose halt
// protects seeds) would release seeds that must stay held, so its deletion waits until it is aborted or finished,
// or until the operator confirms with confirmation.gardener.cloud/deletion=true (Gardener's convention for
// deletions that need a second thought: plugin/pkg/global/deletionconfirmation/admission.go).
import type { CanaryRolloutSpec, CanaryRolloutStatus } from '../api/v1alpha1.js';
import { FINAL_PHASES } from '../api/v1alpha1.js';
import { ANNOTATION_CONFIRM_DELETION } from '../gardener/api.js';
import type { DesiredGarden } from './desired.js';

export interface DeletionVerdict {
  allowed: boolean;
  /** What deleting does and does not undo (and, when it waits, why and how to go ahead). */
  message: string;
}

const NOT_STARTED = new Set(['Pending', 'Planning', 'Planned']);

export function deletionVerdict(spec: CanaryRolloutSpec, status: CanaryRolloutStatus | undefined, desired: DesiredGarden, confirmed: boolean): DeletionVerdict {
  const phase = status?.phase ?? 'Pending';
  const seeds = Object.values(desired.seeds);
  const stops = seeds.filter((s) => s.stop === true).length;
  const marked = seeds.filter((s) => s.marks).length;
  const leaves = [spec.target.gardenlet ? 'gardenlet charts' : 'the ControllerDeployment content', ...(status?.extension?.temporary ? [`the temporary registration ${status.extension.temporary.registration}`] : [])];
  const undoes = `deleting removes this rollout's marks on ${marked} seeds and lets go of its emergency stops on ${stops} seeds; it leaves ${leaves.join(' and ')} as they are`;
  if (FINAL_PHASES.has(phase) || NOT_STARTED.has(phase) || stops === 0) return { allowed: true, message: undoes };
  if (confirmed) return { allowed: true, message: `${undoes} (confirmed with ${ANNOTATION_CONFIRM_DELETION}=true)` };
  return {
    allowed: false,
    message:
      `deletion waits: the rollout is ${phase} and holds emergency stops on ${stops} seeds that deleting would lift; ` +
      `abort it (kubectl canary abort NAME) or let it finish, or annotate it with ${ANNOTATION_CONFIRM_DELETION}=true to delete it now; ${undoes}`,
  };
}
