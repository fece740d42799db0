// Waiting for conditions (never for durations): tests poll until something holds, with a generous
// deadline so a slow shared machine does not fail them.

/**
 * Polls `check` until it returns a truthy value and returns it. The second argument is the deadline in ms
 * (default 10 s) or a description used in the failure message; a third may give the deadline after a description.
 */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string | number = 'condition', timeoutMs = 10_000): Promise<NonNullable<T>> {
  if (typeof what === 'number') [timeoutMs, what] = [what, 'condition'];
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const noop = () => {};
/** A logger that drops everything (tests assert behaviour, not log lines); pino-shaped. */
export const silentLog = { info: noop, warn: noop, error: noop, debug: noop, trace: noop, fatal: noop, child: () => silentLog } as never;
