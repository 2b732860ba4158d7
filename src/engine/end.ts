// What a rollout that has ended still holds in the garden, said in its status (message and condition Holding) so
// that the operator is told, not left to find the stops on the seeds. Read from the desired garden of the final
// status (desired.ts), the same derivation the executor converges to: an aborted rollout under Freeze keeps the
// halt's and the reconcile gate's stops and its marks until it is deleted (deletion.ts: deleting lets go of them and
// changes no version); a SeedSelector rollout aborted under Freeze leaves its temporary objects as they are.
import type { CanaryRolloutStatus, Phase } from '../api/v1alpha1.js';
import type { DesiredGarden } from './desired.js';

export interface EndState {
  /** Something of the rollout is still in the garden. */
  holds: boolean;
  /** Among it emergency stops or marks, which deleting the rollout lets go of. */
  releasedByDeletion: boolean;
  /** The status message of the final phase: how it ended, what it still holds, and what lets go of it. */
  message: string;
}

const LEAD: Partial<Record<Phase, string>> = {
  Succeeded: 'all waves succeeded',
  RolledBack: 'rolled back: the previous version is back on every promoted seed',
  Aborted: 'aborted, versions left as they were',
};

function seedList(names: readonly string[]): string {
  return `${names.length} seed${names.length === 1 ? '' : 's'} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`;
}

export function endState(phase: Phase, status: CanaryRolloutStatus, desired: DesiredGarden): EndState {
  const seeds = Object.entries(desired.seeds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const stopped = seeds.filter(([, w]) => w.stop === true).map(([n]) => n);
  const marked = seeds.filter(([, w]) => w.marks).map(([n]) => n);
  const tmp = status.extension?.temporary;
  const tmpLeft = tmp !== undefined && desired.temporary?.present !== false;
  const held = [
    ...(stopped.length ? [`the emergency stop on ${seedList(stopped)}`] : []),
    ...(marked.length ? [`its marks on ${marked.length} seed${marked.length === 1 ? '' : 's'}`] : []),
  ];
  const lead = LEAD[phase] ?? phase;
  if (!held.length && !tmpLeft) return { holds: false, releasedByDeletion: false, message: `${lead}; nothing of this rollout is left in the garden` };
  const parts = [lead];
  if (held.length) parts.push(`it still holds ${held.join(' and ')}; deleting the rollout lets go of them and changes no version`);
  if (tmpLeft) parts.push(`the temporary registration ${tmp.registration} and deployment ${tmp.deployment} stay, and seeds labelled ${tmp.seedLabel} keep them`);
  return { holds: true, releasedByDeletion: held.length > 0, message: parts.join('; ') };
}
