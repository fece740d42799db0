// What an adapter's start() leaves running (a poller, a webhook listener, a socket, a /sync loop) and its
// stop(): stopped once, by stop() or by an abort of the signal start() was given. The abort listener is
// removed again on stop, so a long-lived signal does not collect one listener per start.

/** Anything start() leaves running. */
export interface Stoppable {
  stop(): Promise<void>;
}

export class RunningTransport<T extends Stoppable> {
  private current: T | undefined;
  private detach: (() => void) | undefined;

  /** The running transport; undefined before start and after stop. */
  get(): T | undefined {
    return this.current;
  }

  /** Holds a started transport; an abort of `signal` stops it. */
  hold(transport: T, signal: AbortSignal): void {
    this.current = transport;
    const onAbort = () => void this.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    this.detach = () => signal.removeEventListener('abort', onAbort);
  }

  /** Stops the held transport (if any) and forgets it; later calls do nothing. */
  async stop(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
    const t = this.current;
    this.current = undefined;
    await t?.stop();
  }
}
