// pino logger for the daemon: JSON by default, pretty on a terminal, on stderr (stdout belongs to the
// console adapter). Token-bearing fields are redacted by path; the loop client also scrubs its errors.

import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const REDACT_PATHS = [
  'token',
  '*.token',
  '*.*.token',
  'secretToken',
  '*.secretToken',
  '*.*.secretToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Where logs go; default stderr. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const usePretty = options.format === 'pretty' || (options.format === 'auto' && Boolean((stream as { isTTY?: boolean }).isTTY));
  const base = { level: options.level, redact: { paths: REDACT_PATHS, censor: '***' }, base: { name: 'loopbridge' } };
  if (usePretty) return pino(base, pretty({ destination: stream, colorize: true, sync: true }));
  return pino(base, stream);
}
