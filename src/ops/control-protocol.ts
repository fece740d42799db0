// The local control channel between operator commands (`loopbridge pairing …`, later `conversations …`) and
// a running daemon: one JSON request and one JSON response per connection, each a single line, over a Unix
// socket only the daemon's user can open. Operations are named `area.verb` and take a JSON object.

/** Why a control call failed. */
export type ControlErrorCode =
  /** No daemon listens on the socket (none runs, or a stale socket file). */
  | 'not_running'
  /** The daemon listens but has not finished starting; ask again shortly. */
  | 'starting'
  /** The daemon has no such operation. */
  | 'unknown_op'
  /** The request was malformed or its arguments are wrong. */
  | 'bad_request'
  /** The thing named does not exist (e.g. an unknown or expired pairing code). */
  | 'not_found'
  /** No answer in time. */
  | 'timeout'
  /** The operation itself failed. */
  | 'failed';

/** The error of the control area: a `code` to branch on and a message fit for an operator's terminal. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Protocol version; a request with another version is refused as bad_request. */
export const CONTROL_VERSION = 1;

/** Largest request or response line, bytes. */
export const MAX_CONTROL_LINE = 1024 * 1024;

export interface ControlRequest {
  v: typeof CONTROL_VERSION;
  /** `area.verb`, e.g. `pairing.approve`. */
  op: string;
  args: Record<string, unknown>;
}

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: { code: ControlErrorCode; message: string } };

/** One operator action: validated args in, a JSON-serialisable result out; throws ControlError for refusals. */
export type Operation = (args: Record<string, unknown>) => Promise<unknown>;

/** The operations a control server (or, with no daemon, the CLI itself) can run, by name. */
export type Operations = Record<string, Operation>;

/** Runs one operation from a table, mapping unknown names and unexpected failures to ControlErrors. */
export async function runOperation(ops: Operations, op: string, args: Record<string, unknown>): Promise<unknown> {
  const fn = Object.hasOwn(ops, op) ? ops[op] : undefined;
  if (!fn) throw new ControlError('unknown_op', `unknown operation ${JSON.stringify(op)}; known: ${Object.keys(ops).sort().join(', ')}`);
  try {
    return await fn(args);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError('failed', `${op} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A required string argument, or a bad_request naming it. */
export function stringArg(args: Record<string, unknown>, name: string): string {
  const v = args[name];
  if (typeof v !== 'string' || v.trim() === '') throw new ControlError('bad_request', `${name} is required (a non-empty string)`);
  return v.trim();
}
