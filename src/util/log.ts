// Structured logging: a static message plus key/value fields, one JSON object per line on stderr
// (the format Gardener's components and most log pipelines expect). Errors are logged where they are handled, as
// `error`: their message, stack and causes, and an API error's status code and the reason the API server gave.
export type Fields = Record<string, unknown>;
export type Level = 'debug' | 'info' | 'error';

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  error(msg: string, err: unknown, fields?: Fields): void;
  with(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: Level;
  write?: (line: string) => void;
  now?: () => Date;
}

/** An error as logged. */
export interface LoggedError {
  message: string;
  stack?: string;
  /** HTTP status of a failed API call (client-node's ApiException `code`, a failed watch's `statusCode`). */
  code?: number;
  /** The reason in the API server's Status answer (Conflict, NotFound, TooManyRequests, ...). */
  reason?: string;
  cause?: LoggedError;
}

/** Causes logged below an error; deeper ones are cut (a cause chain may be long, or loop). */
const MAX_CAUSE_DEPTH = 5;

const RANK: Record<Level, number> = { debug: 0, info: 1, error: 2 };

const isLevel = (v: string | undefined): v is Level => v === 'debug' || v === 'info' || v === 'error';

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const env = process.env.LOG_LEVEL;
  const level = opts.level ?? (isLevel(env) ? env : 'info');
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const emit = (lvl: Level, msg: string, fields: Fields | undefined) => {
    if (RANK[lvl] < RANK[level]) return;
    write(JSON.stringify({ level: lvl, ts: now().toISOString(), msg, ...base, ...fields }, replacer));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, err, fields) => emit('error', msg, { ...fields, error: loggedError(err) }),
    with: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}

/** What a log line says of an error: message, stack, an API error's code and reason, and its causes (bounded). */
export function loggedError(err: unknown, depth = 0): LoggedError {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: LoggedError = { message: err.message };
  if (err.stack) out.stack = err.stack;
  const code = numberField(err, 'code') ?? numberField(err, 'statusCode');
  if (code !== undefined) out.code = code;
  const reason = statusReason(err);
  if (reason) out.reason = reason;
  if (err.cause !== undefined) out.cause = depth < MAX_CAUSE_DEPTH ? loggedError(err.cause, depth + 1) : { message: `(causes deeper than ${MAX_CAUSE_DEPTH} not logged)` };
  return out;
}

function numberField(o: object, key: string): number | undefined {
  const v: unknown = Reflect.get(o, key);
  return typeof v === 'number' ? v : undefined;
}

/** The `reason` of the Status object an API error carries as its body (client-node keeps it as text or parsed). */
function statusReason(err: Error): string | undefined {
  let body: unknown = Reflect.get(err, 'body');
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null || !('reason' in body)) return undefined;
  return typeof body.reason === 'string' && body.reason ? body.reason : undefined;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return loggedError(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}
