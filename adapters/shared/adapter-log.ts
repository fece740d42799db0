// The logger every adapter writes to: the three pino methods adapters use, so the daemon's pino logger
// (or a test's) fits as is.

/** The logger an adapter writes to (pino-compatible). Secrets never appear in what it logs. */
export interface AdapterLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  debug(o: object, m?: string): void;
}

/** Drops everything: an adapter's default when no log is given. */
export const SILENT_LOG: AdapterLog = { info() {}, warn() {}, debug() {} };
