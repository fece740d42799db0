// pino logger for the daemon: JSON by default, pretty on a terminal, on stderr (stdout belongs to the
// console adapter). Token-bearing fields are redacted by path; the loop client also scrubs its errors.

import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { scrubLoopTokens, scrubSecrets } from '../config/mask.js';

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
  /**
   * Configured secret values (`secretValues(config)`): removed from every log line, whatever field or message
   * they hide in. Default none.
   */
  secrets?: readonly string[];
}

/**
 * Passes each log line on with every configured secret and every Loop API token replaced (people's linked
 * tokens are not in the config; pino writes whole lines, so none is split).
 */
function scrubbing(stream: NodeJS.WritableStream, secrets: readonly string[]): NodeJS.WritableStream {
  const out = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      stream.write(scrubLoopTokens(scrubSecrets(String(chunk), secrets)), () => done());
    },
  });
  // pino-pretty colours only when its destination is a terminal.
  (out as { isTTY?: boolean }).isTTY = (stream as { isTTY?: boolean }).isTTY;
  return out;
}

export function createLogger(options: LoggerOptions): Logger {
  const target = options.stream ?? process.stderr;
  const usePretty = options.format === 'pretty' || (options.format === 'auto' && Boolean((target as { isTTY?: boolean }).isTTY));
  const stream = scrubbing(target, options.secrets ?? []);
  const base = { level: options.level, redact: { paths: REDACT_PATHS, censor: '***' }, base: { name: 'loopbridge' } };
  if (usePretty) return pino(base, pretty({ destination: stream, colorize: true, sync: true }));
  return pino(base, stream);
}
