// The rollout machine's guards: plain reads of the event's Evaluation (computed purely in evaluate.ts), the spec it
// carries and the context. Nothing here looks at a clock or the landscape.
import type { Operation } from '../api/v1alpha1.js';
import type { Params } from './machine-context.js';

export const guards = {
  hasPlan: ({ event }: Params) => event.ev.plan !== undefined,
  dryRun: ({ event }: Params) => event.spec.dryRun,
  halting: ({ event }: Params) => {
    const ev = event.ev;
    return ev.overall.outcome === 'fail' || ev.wave?.gate.outcome === 'fail' || ev.regressed.length > 0;
  },
  deadline: ({ event }: Params) => !!event.ev.wave?.deadlinePassed,
  holdExceeded: ({ event }: Params) => event.ev.holdExceeded !== undefined,
  pauseOnDeadline: ({ event }: Params) => event.spec.onProgressDeadline === 'Pause',
  readyAndPassing: ({ event }: Params) => !!event.ev.wave?.allReady && event.ev.wave?.gate.outcome === 'pass',
  allReady: ({ event }: Params) => !!event.ev.wave?.allReady,
  gatePass: ({ event }: Params) => event.ev.wave?.gate.outcome === 'pass',
  waveDoneLast: ({ context, event }: Params) => event.ev.wave?.gate.outcome === 'pass' && !!event.ev.wave?.bakeDone && context.current >= event.spec.waves.length - 1,
  waveDone: ({ event }: Params) => event.ev.wave?.gate.outcome === 'pass' && !!event.ev.wave?.bakeDone,
  op: ({ event }: Params, params: { op: Operation }) => event.type === 'OPERATION' && event.op === params.op,
  revertNeeded: ({ context, event }: Params) =>
    event.spec.onHalt.rollback === 'RevertAll' && (context.extension ? context.waves[0]?.startedAt !== undefined : Object.values(context.seeds).some((s) => !!s.promotedAt)),
  seedSelectorLast: ({ context, event }: Params) =>
    !!context.extension?.temporary && event.ev.wave?.gate.outcome === 'pass' && !!event.ev.wave?.bakeDone && context.current >= event.spec.waves.length - 1,
  handedBack: ({ event }: Params) => event.ev.handedBack,
  revertedAll: ({ event }: Params) => event.ev.revertedAll,
};
