// Durations as the API and the tools write them (Go's time.ParseDuration restricted to h, m and s): one parser, one
// formatter, one bound, shared by the schema, the engine, the CLI and the renderer.

/**
 * Go duration restricted to hours, minutes and seconds, e.g. 90s, 30m, 2h, 1h30m. The digit counts are bounded so
 * that no value can overflow Go's time.ParseDuration (CEL's duration()) or lose precision as a JS number.
 */
export const DURATION = /^([0-9]{1,6}h)?([0-9]{1,7}m)?([0-9]{1,9}s)?$/;
/**
 * Longest duration a rollout takes (bake, progress deadline): 8760h, one year. Longer is a typo, and far longer
 * once made every reconcile throw (a date beyond JavaScript's range).
 */
export const MAX_DURATION_HOURS = 8760;
export const MAX_DURATION_MS = MAX_DURATION_HOURS * 3600_000;

/** Milliseconds a duration string says, unclamped (what the schema checks against the bound). */
export function rawDurationMs(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+)([hms])/g)) total += Number(m[1]) * (m[2] === 'h' ? 3600_000 : m[2] === 'm' ? 60_000 : 1000);
  return total;
}

/**
 * Milliseconds of a duration, clamped to [0, MAX_DURATION_MS]: never NaN or Infinity, never throws. The API server
 * rejects longer values, but objects stored before the bound existed may still carry them.
 */
export function durationMs(d: string): number {
  const total = typeof d === 'string' ? rawDurationMs(d) : 0;
  return Number.isFinite(total) ? Math.min(Math.max(total, 0), MAX_DURATION_MS) : MAX_DURATION_MS;
}

/** A command-line timeout: a duration (30s, 2m, 1m30s) or plain seconds, like kubectl's --request-timeout. */
export function parseTimeout(s: string): number | undefined {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  if (s === '' || !DURATION.test(s)) return undefined;
  return rawDurationMs(s);
}

/** A duration for people: 1h30m, 5m20s, 45s (whole seconds; 0s for nothing). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : m ? `${m}m${s % 60}s` : `${s}s`;
}
