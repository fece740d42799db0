/*
 * Steering: sends a message into a loop's running turn and finds out what the loop did with it.
 *
 * [IMPL] contract §4.5: a message sent while the loop is busy waits in the server's queue. At the running
 * turn's next tool step it is injected into that turn; if the turn reaches its result first, the message
 * runs afterwards as a turn of its own, whose events reach only GET /events watchers (the steering POST
 * closes at the running turn's `done`). So:
 *  1. A watch is opened, and known to be attached, BEFORE the message is sent, and kept across the running
 *     turn's end: if the message becomes its own turn, that turn's events are all on it from the start.
 *  2. The message is POSTed with its idempotency key; the POST is read until `started` (the server holds the
 *     message) and then dropped: the watch carries everything, and a POST stream would only duplicate the
 *     running turn's events (which the running turn's own follower renders).
 *  3. On the watch, the server's echo of the message (`sdk_message` user text, §3.6) marks where the loop
 *     took it in. Before it, a terminal means the running turn ended without taking it: the echo then starts
 *     the message's own turn, followed to its end on the same watch (followWatch). An echo with no terminal
 *     before it means it joined the running turn ('taken-in'). A POST that was not `queued` found the loop
 *     idle: its echo starts its own turn at once.
 *  4. While the watch is quiet, GET /loops/{id} is asked: queue_depth > 0 means the message still waits.
 *     Taken from the queue with no echo seen (a server that does not echo, or a cut at that very moment):
 *     'taken-in' if the running turn had not ended, otherwise its own turn, re-followed as after a cut.
 *  A cut watch is reopened; a cut during the message's own turn is handled by the follower (rules 4–7).
 */

import type { LoopClient } from './client.js';
import { LoopApiError, LoopTransportError, transportError } from './errors.js';
import { followWatch, resumeTurn, type FollowOptions, type OpenWatch } from './follower.js';
import { backoffDelay, sleep } from './retry.js';
import { TERMINAL_EVENTS, type LoopEvent, type SendMessageInput, type TurnEvent } from './types.js';

/** What became of a steering message. */
export type SteerOutcome =
  /** It joined the running turn: whoever follows that turn shows what the loop wrote after it. */
  | { kind: 'taken-in' }
  /** It runs (or ran) as a turn of its own: `events` follows that turn to its terminal event. */
  | { kind: 'own-turn'; events: AsyncIterable<TurnEvent> };

/** Options of steerTurn. */
export interface SteerOptions extends FollowOptions {
  /** Idempotency-Key of the message (a repeat after a restart is replayed by the server, never sent twice). */
  idempotencyKey: string;
  /**
   * Called once the server holds the message; `queued` is true when the loop was busy (the message waits
   * for the running turn's next tool step, or its end).
   */
  onSent?: (queued: boolean) => void | Promise<void>;
}

const TICK = Symbol('tick');

/** Most POSTs of one steering message that end before `started` (a cut) before giving up. */
const MAX_SEND_ATTEMPTS = 5;

function raceTick<T>(p: Promise<T>, ms: number): Promise<T | typeof TICK> {
  let h: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TICK>((res) => (h = setTimeout(() => res(TICK), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(h));
}

/** Opens GET /events and resolves once the server answered (the watch receives live events from then on). */
async function openWatch(client: LoopClient, loopId: string, signal: AbortSignal): Promise<OpenWatch> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const it = client.watch(loopId, { signal: ac.signal, onOpen: () => opened() })[Symbol.asyncIterator]();
  const pending = it.next();
  const close = () => {
    signal.removeEventListener('abort', onAbort);
    ac.abort();
    pending.catch(() => {});
    void it.return?.(undefined)?.catch(() => {});
  };
  // Opening failed or the stream ended at once: `pending` settles first (an error is thrown from it).
  const first = await Promise.race([open.then(() => 'open' as const), pending.then(() => 'settled' as const)]).catch((err: unknown) => {
    close();
    throw err;
  });
  if (first === 'settled') {
    const r = await pending;
    if (r.done) {
      close();
      throw transportError('network_error', 'watch', new Error('the watch ended as soon as it opened'));
    }
  }
  return { it, pending, close };
}

/**
 * Sends `input` into the loop's running turn (see above) and resolves with what the loop did with it. Throws
 * typed errors as sendMessage does (4xx before the stream), LoopTransportError('aborted') on abort.
 */
export async function steerTurn(client: LoopClient, loopId: string, input: SendMessageInput, o: SteerOptions): Promise<SteerOutcome> {
  const signal = o.signal ?? new AbortController().signal;
  const pollMs = o.pollIntervalMs ?? 1_000;
  const giveUpAfterMs = o.giveUpAfterMs ?? 120_000;
  let lastContact = Date.now();
  const throwIfAborted = () => {
    if (signal.aborted) throw transportError('aborted', 'steer', signal.reason);
  };
  let watch = await openWatch(client, loopId, signal);
  let handedOff = false;
  try {
    const queued = await send(client, loopId, input, o, signal);
    await o.onSent?.(queued);
    // The loop was idle when the message arrived: there is no running turn for it to join.
    let ended = !queued;
    let reopens = 0;
    let pollNow = false;
    for (;;) {
      throwIfAborted();
      const r = await raceTick(watch.pending, pollNow ? 0 : pollMs);
      pollNow = false;
      if (r === TICK) {
        const loop = await client.getLoop(loopId, { signal }).catch((err: unknown) => {
          throwIfAborted();
          if (err instanceof LoopApiError && !err.retryable) throw err;
          return undefined; // transient: ask again at the next quiet tick
        });
        if (loop) lastContact = Date.now();
        else if (Date.now() - lastContact > giveUpAfterMs) {
          throw new LoopTransportError({ code: 'timeout', message: `steer: no contact with the server for ${giveUpAfterMs} ms`, retryable: true });
        }
        if (!loop || (loop.queue_depth ?? 0) > 0) continue; // still waiting for the running turn's next step
        if (!ended) return { kind: 'taken-in' };
        // It runs as its own turn but we never saw it start: follow it as after a cut.
        watch.close();
        handedOff = true;
        return { kind: 'own-turn', events: resumeTurn(client, loopId, { ...o, textSoFar: '', detachedSince: Date.now() }) };
      }
      if (r.done) {
        // Cut (the server's idle cut during a long tool step, a drop): attach again, then ask at once.
        watch.close();
        await sleep(backoffDelay(reopens++, { baseDelayMs: 100, maxDelayMs: 2_000 }), signal);
        watch = await openWatch(client, loopId, signal);
        pollNow = true;
        continue;
      }
      reopens = 0;
      lastContact = Date.now();
      watch.pending = watch.it.next();
      const ev: LoopEvent = r.value;
      if (ev.type === 'sdk_message' && ev.userText === input.content) {
        if (!ended) return { kind: 'taken-in' };
        handedOff = true;
        return { kind: 'own-turn', events: followWatch(client, loopId, watch, o) };
      }
      if (TERMINAL_EVENTS.has(ev.type)) ended = true;
    }
  } catch (err) {
    throwIfAborted();
    throw err;
  } finally {
    if (!handedOff) watch.close();
  }
}

/**
 * POSTs the message and reads its stream until `started` (the server holds it), then drops the stream.
 * True when it began with `queued` (the loop was busy). A stream cut before `started` is sent again with
 * the same key (the server replays a message it already has instead of sending it twice).
 */
async function send(client: LoopClient, loopId: string, input: SendMessageInput, o: SteerOptions, signal: AbortSignal): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    let queued = false;
    for await (const ev of client.sendMessage(loopId, input, { idempotencyKey: o.idempotencyKey, signal })) {
      if (ev.type === 'queued') queued = true;
      // A terminal before `started` is a replay of a record that never saw its start: the server has it.
      if (ev.type === 'started' || TERMINAL_EVENTS.has(ev.type)) return queued;
    }
    if (signal.aborted) throw transportError('aborted', 'steer', signal.reason);
    if (attempt >= MAX_SEND_ATTEMPTS) {
      throw new LoopTransportError({ code: 'network_error', message: `steer: the message stream was cut ${attempt} times before the server confirmed it`, retryable: true });
    }
  }
}
