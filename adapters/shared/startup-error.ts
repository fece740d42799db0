// Each adapter's start() failures share one shape: a code from the adapter's closed union, and a message
// that names the config key to fix.

/** A start() failure the operator must act on; each adapter subclasses it with its own codes and name. */
export class AdapterStartupError<C extends string = string> extends Error {
  override readonly name: string = 'AdapterStartupError';
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
