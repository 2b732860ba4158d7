// Structured logging: a static message plus key/value fields, one JSON object per line on stderr
// (the format Gardener's components and most log pipelines expect). Errors are logged where they are handled.
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

const RANK: Record<Level, number> = { debug: 0, info: 1, error: 2 };

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const level = opts.level ?? ((process.env.LOG_LEVEL as Level | undefined) && RANK[process.env.LOG_LEVEL as Level] !== undefined ? (process.env.LOG_LEVEL as Level) : 'info');
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const emit = (lvl: Level, msg: string, fields: Fields | undefined) => {
    if (RANK[lvl] < RANK[level]) return;
    write(JSON.stringify({ level: lvl, ts: now().toISOString(), msg, ...base, ...fields }, replacer));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, err, fields) => emit('error', msg, { ...fields, error: err instanceof Error ? err.message : String(err) }),
    with: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === 'bigint') return value.toString();
  return value;
}
