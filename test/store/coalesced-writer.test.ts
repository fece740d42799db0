// The write coalescer, driven by a fake write whose completion the test controls.

import { describe, expect, it, vi } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { CoalescedWriter } from '../../src/store/coalesced-writer.js';

interface Deferred {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A state counter plus a write that snapshots it synchronously and waits for the test. */
function harness(delayMs: number, retryDelayMs?: number) {
  let state = 0;
  const started: number[] = []; // state snapshotted by each write, in start order
  const pending: Deferred[] = [];
  const errors: unknown[] = [];
  const writer = new CoalescedWriter({
    delayMs,
    retryDelayMs,
    onError: (error) => errors.push(error),
    write: () => {
      started.push(state);
      return new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
    },
  });
  const mutate = () => {
    state++;
    writer.markDirty();
  };
  return { writer, started, pending, errors, mutate };
}

const until = (condition: () => boolean, what: string): Promise<unknown> => waitFor(condition, what);

const settled = (p: Promise<unknown>) => {
  const box = { done: false };
  p.then(
    () => (box.done = true),
    () => (box.done = true),
  );
  return box;
};

describe('CoalescedWriter', () => {
  it('resolves flush at once when nothing is dirty, without writing', async () => {
    const h = harness(10);
    await h.writer.flush();
    expect(h.started).toEqual([]);
    expect(h.writer.writes).toBe(0);
  });

  it('turns a burst of marks into one write after the delay', async () => {
    const h = harness(20);
    for (let i = 0; i < 10_000; i++) h.mutate();
    expect(h.started).toEqual([]); // nothing written synchronously
    await until(() => h.started.length === 1, 'the delayed write');
    expect(h.started).toEqual([10_000]);
    h.pending[0]!.resolve();
    await until(() => h.writer.writes === 1, 'write completion');
    expect(h.writer.dirty).toBe(false);
  });

  it('while a write runs, later marks cause exactly one more write after it', async () => {
    // Fake timers: the delay timer certainly fires while the first write runs, however slow the machine.
    vi.useFakeTimers();
    try {
      const h = harness(5);
      h.mutate();
      await vi.advanceTimersByTimeAsync(5);
      expect(h.started.length).toBe(1);
      for (let i = 0; i < 100; i++) h.mutate();
      await vi.advanceTimersByTimeAsync(50); // ten times the delay
      expect(h.started.length).toBe(1); // never two writes at once
      h.pending[0]!.resolve();
      await vi.advanceTimersByTimeAsync(0);
      expect(h.started).toEqual([1, 101]);
      h.pending[1]!.resolve();
      await vi.advanceTimersByTimeAsync(50);
      expect(h.writer.writes).toBe(2);
      expect(h.started.length).toBe(2); // and no third
    } finally {
      vi.useRealTimers();
    }
  });

  it('flush waits for a write that covers every earlier mark, not the one in progress', async () => {
    const h = harness(1_000_000); // only flushes trigger writes here
    h.mutate();
    const first = h.writer.flush();
    expect(h.started).toEqual([1]); // flush starts a write at once
    h.mutate(); // lands after the running write's snapshot
    const second = settled(h.writer.flush());
    h.pending[0]!.resolve();
    await first;
    expect(second.done).toBe(false); // the first write did not cover the second mark
    await until(() => h.started.length === 2, 'covering write');
    expect(h.started[1]).toBe(2);
    h.pending[1]!.resolve();
    await until(() => second.done, 'second flush');
    expect(h.writer.dirty).toBe(false);
  });

  it('rejects the flushes a failed write covered, keeps the state dirty and retries', async () => {
    const h = harness(5, 10);
    h.mutate();
    const flushed = h.writer.flush();
    h.pending[0]!.reject(new Error('disk full'));
    await expect(flushed).rejects.toThrow('disk full');
    expect(h.errors).toHaveLength(1);
    expect(h.writer.dirty).toBe(true);
    await until(() => h.started.length === 2, 'retry');
    h.pending[1]!.resolve();
    await until(() => !h.writer.dirty, 'retry to succeed');
    await h.writer.flush();
  });

  it('close flushes pending marks', async () => {
    const h = harness(1_000_000);
    h.mutate();
    const closing = settled(h.writer.close());
    expect(h.started).toEqual([1]);
    h.pending[0]!.resolve();
    await until(() => closing.done, 'close');
    expect(h.writer.writes).toBe(1);
  });
});
