// The store's errors: one base class with a `code` a caller can branch on.

/** Why a store call failed. */
export type StoreErrorCode =
  /** The store was closed; no calls are allowed after `close()`. */
  | 'closed'
  /** The database cannot be reached now (refused, timed out, connection lost); retry later. */
  | 'unavailable'
  /** The database schema is newer than this build knows, or could not be migrated. */
  | 'schema'
  /** The database refused the statement (a bug or an operator change); not worth retrying. */
  | 'rejected';

/** Base of every store error. Messages never hold stored values or credentials. */
export class StoreError extends Error {
  override name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Thrown by every call on a store after `close()` began. */
export class StoreClosedError extends StoreError {
  override name = 'StoreClosedError';

  constructor() {
    super('closed', 'store is closed: no calls are allowed after close()');
  }
}

/** The database is unreachable (refused, timed out, cut off); the call may succeed later. */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}
