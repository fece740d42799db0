// Steering: messages sent into a conversation's running turn instead of queued behind it (/steer, a reply
// to the live message, or `whileBusy: steer`). They are accepted durably into the conversation's steer
// queue (with their dedupe mark, like any message) and sent by the turn's own slot while that turn runs at
// the server, one at a time. What the loop did with each (steer.ts) decides who shows its reply:
//  - taken in at a tool step: the running turn's live message shows what the loop writes after it;
//  - the turn ended first, so it runs as a turn of its own: the conversation follows that turn next, with
//    its own live reply, from a watch attached before it began;
//  - not sent before the turn ended (or the server never held it): it runs as the next turn, like a message.
// Steering messages go before the inbox: they were meant for now. The steering POST stream is never shown,
// so the running turn's text is never rendered twice.

import type { LoopClient } from '../loop-api/client.js';
import type { Loop, PermissionMode, TurnEvent } from '../loop-api/types.js';
import { steerTurn } from '../loop-api/steer.js';
import type { Store, StoreOp } from '../store/store.js';
import { classifyTurnFailure } from './failure-kind.js';
import { messageImages } from './message-images.js';
import type { Outlet } from './outlet.js';
import { keys, type ChoiceRecord, type QueuedMessage, type SteerPhase, type TurnRecord } from './state.js';
import { pause } from './pause.js';

/** The acknowledgement a steering message gets once the loop server holds it. */
export const STEER_ACK = '↪️ Sent into the running turn';

export interface SteeringDeps {
  store: Store;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Posts a notice in a conversation (never throws). */
  notify(outlet: Outlet, item: QueuedMessage, text: string): Promise<void>;
  /** True the first time in `ttlMs` (durable): one acknowledgement per steering message, also across restarts. */
  firstNotice(what: string, ttlMs: number): Promise<boolean>;
  /** Poll interval of GET /loops/{id} while a steer waits and its watch is quiet, ms. Default 1000. */
  pollIntervalMs?: number;
  /** Pause between attempts to send a steer the loop server did not take, ms. Default 1000 (doubling to 30000). */
  retryMinMs?: number;
}

/** The next turn a conversation runs when it is a steering message's. */
export interface SteerTurn {
  item: QueuedMessage;
  /** Present when steering already delivered it (see TurnInput.sent). */
  sent?: { events?: AsyncIterable<TurnEvent> };
}

/** One running turn's steering: fed by the turn runner, pumped alongside it (see Steering.slot). */
export interface SteerSlot {
  /** TurnInput.onPhase for the running turn. */
  onPhase(phase: 'streaming' | 'ended'): void;
  /** FollowOptions.movedOn for the running turn. */
  movedOn(loop: Loop): Promise<boolean>;
  /** Stops sending (the turn is over, however it ended) and resolves once the steer in flight, if any, has its outcome. */
  close(): Promise<void>;
}

interface SlotInput {
  outlet: Outlet;
  /** The client that drives this conversation's loop (its owner's token with access.loopTokens per-user). */
  client: LoopClient;
  /** The message of the turn this slot serves (a steer that found the loop idle runs as that turn itself). */
  itemId: string;
  convKey: string;
  loopId: string;
  permissionMode: PermissionMode;
  signal: AbortSignal;
}

type Decision = 'taken-in' | 'own-turn' | 'failed';

/** A wake-up that is not lost when it fires before anyone waits (the next wait returns at once). */
class Wakeup {
  private armed = false;
  private resolve: (() => void) | undefined;

  fire(): void {
    const r = this.resolve;
    this.resolve = undefined;
    if (r) r();
    else this.armed = true;
  }

  wait(): Promise<void> {
    if (this.armed) {
      this.armed = false;
      return Promise.resolve();
    }
    return new Promise((r) => (this.resolve = r));
  }
}

export class Steering {
  /** Own turns handed over by a slot to the conversation's next turn: item id → its events. */
  private readonly handoffs = new Map<string, { loopId: string; events: AsyncIterable<TurnEvent>; close: () => void }>();
  /** Loops with a steer in flight (its watch sees the loop's turns). */
  private readonly inFlight = new Map<string, number>();
  /** convKey → wakes that conversation's slot pump (a new steer was accepted). */
  private readonly waiting = new Map<string, Wakeup>();

  constructor(private readonly deps: SteeringDeps) {}

  /** A new steer was accepted in this conversation. */
  poke(convKey: string): void {
    this.waiting.get(convKey)?.fire();
  }

  /** True while steering has a stream on this loop whose turn the conversation will show (mirrors stay out). */
  ownsLoop(loopId: string): boolean {
    if ((this.inFlight.get(loopId) ?? 0) > 0) return true;
    for (const h of this.handoffs.values()) if (h.loopId === loopId) return true;
    return false;
  }

  /** Steering messages waiting in a conversation (not yet taken in or run). */
  async waitingCount(convKey: string): Promise<number> {
    return (await this.deps.store.items(keys.steer(convKey))).length;
  }

  /**
   * The steering message the conversation runs as its next turn, if any: the head of its steer queue,
   * unless the turn in flight (a restart) is the inbox's. Steers go first: they were meant for now.
   */
  async next(convKey: string, inboxHead: QueuedMessage | undefined): Promise<SteerTurn | undefined> {
    const { store } = this.deps;
    const head = await store.peek<QueuedMessage>(keys.steer(convKey));
    if (!head) return undefined;
    const inFlight = await store.get<TurnRecord>(keys.turn(convKey));
    if (inFlight && inboxHead && inFlight.itemId === inboxHead.id) return undefined; // resume that turn first
    const phase = await store.get<SteerPhase>(keys.steerPhase(head.id));
    if (phase !== 'own-turn') return { item: head }; // never sent, or not known to be held: send it (same key)
    const handoff = this.handoffs.get(head.id);
    this.handoffs.delete(head.id);
    return { item: head, sent: handoff ? { events: handoff.events } : {} };
  }

  /**
   * Removes the head of the conversation's steer queue (its turn is over, or it was taken in), with `also`
   * in the same batch (a replica's lease guard and the turn record's removal): false if a guard failed.
   */
  async dequeue(convKey: string, itemId: string, also: StoreOp[] = []): Promise<boolean> {
    this.handoffs.get(itemId)?.close();
    this.handoffs.delete(itemId);
    return this.deps.store.batch([...also, { op: 'dequeue', queue: keys.steer(convKey) }, { op: 'delete', key: keys.steerPhase(itemId) }]);
  }

  /** Drops what is held in memory (shutdown); the store keeps every steer for the next start. */
  stop(): void {
    for (const h of this.handoffs.values()) h.close();
    this.handoffs.clear();
    for (const wake of this.waiting.values()) wake.fire();
  }

  /** Starts steering for a turn that is about to run; the caller closes the slot when the turn is over. */
  slot(input: SlotInput): SteerSlot {
    let streaming = false;
    let ended = false;
    let movedOn = false;
    let decision: Promise<Decision> | undefined;
    const wakeup = new Wakeup();
    this.waiting.set(input.convKey, wakeup);
    const pump = this.pump(input, {
      live: () => streaming && !ended && !input.signal.aborted,
      ended: () => ended || input.signal.aborted,
      wait: () => wakeup.wait(),
      deciding: (d) => {
        decision = d;
        void d.then((v) => {
          if (v === 'own-turn') movedOn = true;
        });
      },
    });
    return {
      onPhase: (phase) => {
        if (phase === 'streaming') streaming = true;
        else ended = true;
        wakeup.fire();
      },
      movedOn: async (loop) => {
        if (movedOn) return true;
        // Still queued at the server: the running turn has not reached a step where it could have moved on.
        if (!decision || (loop.queue_depth ?? 0) > 0) return false;
        return (await decision) === 'own-turn';
      },
      close: async () => {
        ended = true;
        wakeup.fire();
        await pump;
        if (this.waiting.get(input.convKey) === wakeup) this.waiting.delete(input.convKey);
      },
    };
  }

  private async pump(
    input: SlotInput,
    turn: { live(): boolean; ended(): boolean; wait(): Promise<void>; deciding(d: Promise<Decision>): void },
  ): Promise<void> {
    const { store, log } = this.deps;
    let delay = this.deps.retryMinMs ?? 1000;
    while (!turn.ended()) {
      const head = await store.peek<QueuedMessage>(keys.steer(input.convKey));
      if (!head || !turn.live()) {
        await turn.wait();
        continue;
      }
      if ((await store.get<SteerPhase>(keys.steerPhase(head.id))) === 'own-turn') return; // it runs next
      // The turn running now is this very steer (it found the loop idle and runs as a turn): it must not be
      // sent into itself, and the steers behind it wait their turn in order (the queue leaves head first).
      if (head.id === input.itemId) return;
      let settle!: (d: Decision) => void;
      turn.deciding(new Promise<Decision>((r) => (settle = r)));
      try {
        const outcome = await this.send(input, head, turn.live);
        settle(outcome === 'not-running' ? 'failed' : outcome);
        if (outcome === 'own-turn') return;
        // The loop is idle although the runner has not seen its turn end yet: wait for the runner.
        if (outcome === 'not-running') await turn.wait();
        delay = this.deps.retryMinMs ?? 1000;
      } catch (err) {
        settle('failed');
        if (input.signal.aborted) return;
        const failure = classifyTurnFailure(err);
        const why = err instanceof Error ? err.message : String(err);
        if (failure.kind === 'loop-refused' || failure.kind === 'platform-permanent') {
          log.warn({ convKey: input.convKey, err: why }, 'a steering message was refused; dropped');
          await this.deps.notify(input.outlet, head, `⚠️ This message could not be sent into the running turn: ${why}`);
          await this.dequeue(input.convKey, head.id);
          await store.flush();
          continue;
        }
        if (failure.kind === 'loop-blocked') return; // the conversation's next turn says what to do
        log.warn({ convKey: input.convKey, err: why }, 'sending a steering message failed; retrying while the turn runs');
        await Promise.race([pause(delay, input.signal), turn.wait()]);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /**
   * Sends one steering message into the running turn and settles it: taken in → dequeued; its own turn →
   * handed to the conversation's next turn. 'not-running' when the turn no longer runs at the server: it is
   * not sent (it stays queued and runs as the next turn).
   */
  private async send(input: SlotInput, item: QueuedMessage, live: () => boolean): Promise<'taken-in' | 'own-turn' | 'not-running'> {
    const { store, log } = this.deps;
    const { client } = input;
    // Nothing else of ours runs on the loop: busy means the turn we steer still runs there. Sending to an
    // idle loop would start a turn the conversation is not following yet.
    const loop = await client.getLoop(input.loopId, { signal: input.signal });
    if (!loop.busy || !live()) return 'not-running';
    await store.set(keys.steerPhase(item.id), 'sending' satisfies SteerPhase);
    await store.flush();
    const images = await messageImages(input.outlet, item, input.signal);
    this.inFlight.set(input.loopId, (this.inFlight.get(input.loopId) ?? 0) + 1);
    try {
      const outcome = await steerTurn(
        client,
        input.loopId,
        { content: item.text, images: images.length ? images : undefined, permissionMode: input.permissionMode },
        {
          idempotencyKey: item.id,
          signal: input.signal,
          pollIntervalMs: this.deps.pollIntervalMs,
          onSent: async (queued) => {
            if (queued && (await this.deps.firstNotice(`steer-ack/${item.id}`, 24 * 3600_000))) {
              await this.deps.notify(input.outlet, item, await this.ackText(input.convKey));
            }
          },
        },
      );
      if (outcome.kind === 'taken-in') {
        log.info({ convKey: input.convKey, loopId: input.loopId }, 'steering message taken into the running turn');
        await this.dequeue(input.convKey, item.id);
        await store.flush();
        return 'taken-in';
      }
      log.info({ convKey: input.convKey, loopId: input.loopId }, 'steering message runs as its own turn');
      const it = outcome.events[Symbol.asyncIterator]();
      this.handoffs.set(item.id, { loopId: input.loopId, events: { [Symbol.asyncIterator]: () => it }, close: () => void it.return?.(undefined)?.catch(() => {}) });
      await store.set(keys.steerPhase(item.id), 'own-turn' satisfies SteerPhase);
      await store.flush();
      return 'own-turn';
    } finally {
      const n = (this.inFlight.get(input.loopId) ?? 1) - 1;
      if (n > 0) this.inFlight.set(input.loopId, n);
      else this.inFlight.delete(input.loopId);
    }
  }

  /** "Sent into the running turn", saying when a pending choice holds it back. */
  private async ackText(convKey: string): Promise<string> {
    const token = await this.deps.store.get<string>(keys.pendingChoice(convKey));
    const choice = token ? await this.deps.store.get<ChoiceRecord>(keys.choice(token)) : undefined;
    return choice?.state === 'pending' ? `${STEER_ACK} — the loop takes it in once the pending choice is answered.` : STEER_ACK;
  }
}
