// A LoopClient that notes, per loop, when each assistant_delta reached the core (the moment the client
// hands it to the turn follower) and the text received so far. The core gets the same events unchanged.

import { LoopClient, type CallOptions, type SendMessageOptions } from '../../src/loop-api/client.js';
import type { LoopEvent, SendMessageInput } from '../../src/loop-api/types.js';

/** One received delta: when (ms since the epoch, Date.now clock) and the length of the loop's text so far after it, UTF-16 units. */
export interface ReceivedDelta {
  at: number;
  length: number;
}

export class TappedClient extends LoopClient {
  /** loop id → deltas in arrival order (the POST stream and any /events reattach). */
  readonly received = new Map<string, ReceivedDelta[]>();
  /** loop id → all text received (the deltas concatenated). */
  readonly text = new Map<string, string>();
  /** loop id → when the turn's terminal event (done/interrupted/error) reached the core, ms since the epoch. */
  readonly endedAt = new Map<string, number>();

  override sendMessage(loopId: string, input: SendMessageInput, o?: SendMessageOptions): AsyncIterable<LoopEvent> {
    return this.tap(loopId, super.sendMessage(loopId, input, o));
  }

  override watch(loopId: string, o?: CallOptions): AsyncIterable<LoopEvent> {
    return this.tap(loopId, super.watch(loopId, o));
  }

  /**
   * Observes each event as the core pulls it. A plain iterator wrapper rather than an async generator:
   * the measurement must not add a generator's garbage per event to the core's RSS it reports.
   */
  private tap(loopId: string, events: AsyncIterable<LoopEvent>): AsyncIterable<LoopEvent> {
    const observe = (ev: LoopEvent): void => {
      if (ev.type === 'assistant_delta') {
        let list = this.received.get(loopId);
        if (!list) this.received.set(loopId, (list = []));
        const text = (this.text.get(loopId) ?? '') + ev.text;
        this.text.set(loopId, text);
        list.push({ at: Date.now(), length: text.length });
      } else if (ev.type === 'done' || ev.type === 'interrupted' || ev.type === 'error') {
        this.endedAt.set(loopId, Date.now());
      }
    };
    return {
      [Symbol.asyncIterator]: () => {
        const it = events[Symbol.asyncIterator]();
        return {
          next: () =>
            it.next().then((r) => {
              if (!r.done) observe(r.value);
              return r;
            }),
          return: (v?: unknown) => it.return?.(v) ?? Promise.resolve({ done: true as const, value: undefined }),
          throw: (e?: unknown) => it.throw?.(e) ?? Promise.reject(e),
        };
      },
    };
  }
}
