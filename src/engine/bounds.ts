// Size bounds of what the engine writes into a CanaryRollout, in one place: operator text is capped where it enters
// decide().

/** Operator reason text (annotation canary.gardener.cloud/reason), as it goes into the history. */
export const MAX_REASON_BYTES = 1024;
/** An operation value the controller does not know, as it goes into the history and the notes. */
export const MAX_OPERATION_BYTES = 64;

const encoder = new TextEncoder();

/** Bytes of `s` in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD, as it is sent). */
export const utf8Bytes = (s: string): number => encoder.encode(s).length;

const bytesOf = (codePoint: number): number => (codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4);

/** The longest prefix of `s` of at most `max` bytes of UTF-8, cut between characters (code points). */
export function cutUtf8(s: string, max: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    bytes += bytesOf(ch.codePointAt(0)!);
    if (bytes > max) return s.slice(0, end);
    end += ch.length;
  }
  return s;
}

/**
 * `s` if it fits in `max` bytes of UTF-8; else a prefix cut between characters that says it was cut:
 * "… (truncated from N bytes)", all of it within `max` bytes.
 */
export function capText(s: string, max: number): string {
  const n = utf8Bytes(s);
  if (n <= max) return s;
  const suffix = ` … (truncated from ${n} bytes)`;
  return cutUtf8(s, Math.max(0, max - utf8Bytes(suffix))) + suffix;
}
