// Errors of the replica coordination (leases, fencing).

/** Why a replica could not act. */
export type ReplicaErrorCode =
  /** The lease this work ran under expired or was taken over: another replica may run it now. */
  'lease-lost';

/** Base of the replica errors. */
export class ReplicaError extends Error {
  override name = 'ReplicaError';
  readonly code: ReplicaErrorCode;

  constructor(code: ReplicaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A write fenced by a lease was refused because the lease is no longer this replica's. */
export class LeaseLostError extends ReplicaError {
  override name = 'LeaseLostError';

  constructor(lease: string) {
    super('lease-lost', `lease ${lease} is no longer held by this replica; the write was not made`);
  }
}
