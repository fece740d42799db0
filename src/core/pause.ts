// A wait that ends early, without an error, when its signal aborts: retry pauses that shutdown cuts short.

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (it never rejects). The abort listener
 * is removed when the time is up, so a long-lived signal does not collect one per pause.
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
