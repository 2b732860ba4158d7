// The one way tests wait for something: poll a probe until it succeeds, and on timeout say what was awaited and what
// was last seen. No test sleeps for a fixed time to let something happen; it waits for the thing itself.

export interface PollOptions {
  /** Time between attempts (default 250 ms). */
  pollMs?: number;
  /** Log lines to quote on timeout, e.g. a ControllerProcess (its last 15 lines). */
  logs?: readonly string[];
}

/** What a probe saw when it did not succeed yet; its message is the timeout's "last seen". */
export class NotYet extends Error {
  constructor(seen: string) {
    super(seen);
    this.name = 'NotYet';
  }
}

/** Thrown by a probe when waiting longer cannot help (e.g. the process it waits on died): eventually rethrows it at once. */
export class GiveUp extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GiveUp';
  }
}

function lastSeen(err: unknown): string {
  if (err instanceof NotYet) return `last seen: ${err.message}`;
  return `last error: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Calls `probe` until it returns (rather than throws), and returns what it returned. A throw is "not yet" (an
 * expectation that does not hold yet, a NotYet naming what the probe saw, an API error), except GiveUp. After `timeoutMs`,
 * throws an error naming `what`, the last throw's message (and it as the cause) and the last log lines.
 */
export async function eventually<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 15_000, options: PollOptions = {}): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      return await probe();
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err;
    }
    if (Date.now() > end) {
      const logs = options.logs?.slice(-15).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${lastSeen(last)}${logs ? `\n${logs}` : ''}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
  }
}

/**
 * Polls `probe` until it returns something other than undefined, and returns that. For a probe that can say what it
 * saw meanwhile, return undefined never and throw NotYet instead (use `eventually`).
 */
export function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, options: PollOptions = {}): Promise<T> {
  return eventually(
    what,
    async () => {
      const v = await probe();
      if (v === undefined) throw new NotYet('undefined');
      return v;
    },
    timeoutMs,
    options,
  );
}
