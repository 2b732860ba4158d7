// The one way tests wait for something: poll a probe until it succeeds, and on timeout say what was awaited and what
// was last seen. No test sleeps for a fixed time to let something happen; it waits for the thing itself.

/** A ControllerProcess will do as options: its log's last 15 lines are quoted on timeout. */
export interface PollOptions {
  /** Time between attempts (default 250 ms). */
  pollMs?: number;
  /** Log lines to quote (the last 15) on timeout. */
  logs?: readonly string[];
}

/** Thrown by a waitFor probe for "not yet": its message (what the probe saw) is the timeout's "last seen". */
export class NotYet extends Error {
  constructor(seen: string) {
    super(seen);
    this.name = 'NotYet';
  }
}

async function poll<T>(what: string, probe: () => Promise<T> | T, notYet: (err: unknown) => boolean, timeoutMs: number, options: PollOptions): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      return await probe();
    } catch (err) {
      if (!notYet(err)) throw err;
      last = err;
    }
    if (Date.now() > end) {
      const seen = last instanceof NotYet ? `last seen: ${last.message}` : `last error: ${last instanceof Error ? last.message : String(last)}`;
      const logs = options.logs?.slice(-15).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${seen}${logs ? `\n${logs}` : ''}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}

/**
 * Retries a block of expectations until it passes, and returns what it returned: every throw is "not yet". The
 * controller writes a decision to the status before it applies the decision's effects (a crash in between is
 * repaired from the status), so what a phase implies on other objects (stops lifted, temporary objects deleted)
 * follows the phase shortly; assert it with this, not right away.
 */
export function eventually<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000, options: PollOptions = {}): Promise<T> {
  return poll(what, check, () => true, timeoutMs, options);
}

/**
 * Polls `probe` until it returns something other than undefined, and returns that. Undefined or a NotYet (which
 * says what the probe saw) is "not yet"; any other throw fails at once, so an expectation inside the probe is an
 * invariant that must hold at every poll.
 */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, options: PollOptions = {}): Promise<T> {
  const defined = async () => {
    const v = await probe();
    if (v === undefined) throw new NotYet('nothing yet');
    return v;
  };
  return poll(what, defined, (err) => err instanceof NotYet, timeoutMs, options);
}
