/*
 * The turn follower: one message in, ONE continuous event stream for its turn out, surviving stream cuts.
 *
 * Recovery rules (contract §3.6, §4.4–4.8):
 *  1. followTurn POSTs with the idempotency key. Failures before the stream: 4xx are thrown as typed
 *     errors; 5xx/network are retried by the client with the same key (a replay never re-sends).
 *  2. Events are yielded as they come. A terminal event (done/interrupted/error) ends the follow, except:
 *  3. If the POST stream began with `queued`, the loop was busy with another turn and a terminal may be
 *     that turn's ([IMPL] a queued POST closes at the first `done` on the loop). So each terminal is held
 *     and GET /loops/{id} is asked: still busy → the terminal is swallowed and the follow continues on
 *     /events; idle → it is yielded and the follow ends.
 *  4. A stream that ends without a terminal (server idle cut ~10 s, proxy timeout, network drop, our
 *     idle-read timeout) is not an error: we attach to GET /events. The POST is never repeated for
 *     recovery ([IMPL] a replay after a disconnect is partial and has no terminal).
 *  5. On attach, GET /loops/{id} is read at once, and again every pollIntervalMs while the watch is quiet.
 *     - a `snapshot` as the first watch event: its text is compared with the text yielded since the last
 *       swallowed terminal. If it extends it, only the missing suffix is yielded (one assistant_delta);
 *       if equal, nothing. Otherwise (e.g. [IMPL] N listeners hold each delta N times) we do not guess:
 *       one `gap` is yielded and later snapshots are ignored. A pending choice we never saw is reported
 *       as a `gap` too (its payload cannot be fetched) — in followTurn only; after a restart
 *       (resumeTurn) the bridge has its own copy of the choices.
 *     - GET says not busy and no terminal arrived: the turn ended while detached. Yield `gap` then a
 *       synthetic `done` (turnId from `started`/snapshot/current_turn; never matched against done's).
 *  5a. Every stretch with no stream of ours attached (a cut, or a bridge restart: `detachedSince`) is a
 *     detached window. [IMPL] the server's tracker accumulates nothing while no stream is attached, so a
 *     snapshot that adds nothing to our text cannot prove nothing was written meanwhile. Unless the
 *     snapshot extends our text (or `snapshotComplete` says the server is [SPEC]), such a window yields
 *     one `gap` ("loopbridge was disconnected for N s while the loop was writing") — at once when the
 *     loop was writing at the cut; when it was inside a tool step (a tool running, a choice waiting) only
 *     if the next event shows the step ended unseen (text or a new tool before that tool's result), so
 *     the server's ~10 s idle cuts during long tools do not mark every reply.
 *  6. A watch that is cut is reopened (immediately if it delivered events, else with capped jittered
 *     backoff). Opening errors: 4xx (loop_not_found, not_loop_owner…) end the follow with that error;
 *     5xx/network are retried until giveUpAfterMs passes without any successful contact, then a
 *     LoopTransportError('timeout') is thrown.
 *  7. Everything else from the watch (requires_choice, choice_resolved, tool events, ping, sdk_message,
 *     unknown) is yielded as it comes, exactly once; snapshots themselves are never yielded.
 *  8. Aborting the signal throws LoopTransportError('aborted'). A follow that returns normally has
 *     always yielded a terminal event last.
 */

import { LoopApiError, LoopTransportError, transportError } from './errors.js';
import { backoffDelay, sleep } from './retry.js';
import type { LoopClient } from './client.js';
import type { Loop, LoopEvent, SendMessageInput, TurnEvent } from './types.js';

/** Options of followTurn/resumeTurn. */
export interface FollowOptions {
  signal?: AbortSignal;
  /** Poll interval of GET /loops/{id} while reattached and quiet, ms. Default 1000. */
  pollIntervalMs?: number;
  /** Give up reattaching after this long without any contact with the server, ms. Default 120000. */
  giveUpAfterMs?: number;
  /**
   * Epoch ms since which no stream of ours has been attached to this turn (a bridge restart resuming it).
   * Starts the first detached window at that moment instead of at the cut the follow itself sees. Default:
   * none (the turn is followed from its start).
   */
  detachedSince?: number;
  /**
   * The most turn text held to compare snapshots with, chars. Past it the follower keeps no copy (and a
   * reattach cannot use snapshots). Default 1,048,576 (the turn runner passes `replies.maxTextChars`).
   */
  maxTextChars?: number;
  /**
   * The server's `snapshot` holds all of the turn's text, also text produced while no stream was attached
   * ([SPEC]; the simulator with `snapshotTextDuplicated: false`). Default false ([IMPL]: it does not, so
   * a snapshot that adds nothing cannot prove that nothing was missed; see rule 5a).
   */
  snapshotComplete?: boolean;
  /**
   * An earlier follow of this turn (another process, before a resume) was already detached for a while:
   * [IMPL] the server's snapshot then lacks what was written in that stretch, so a snapshot that extends
   * our text proves nothing; its extra text is shown after a gap note. Default false.
   */
  snapshotHasHoles?: boolean;
  /**
   * Asked each time the follow reattaches after a cut, with the loop as GET /loops/{id} shows it then: true
   * when this turn is known to have ended meanwhile and the loop moved on to another turn (a message sent
   * to steer this turn that runs as a turn of its own). The follow then ends as a turn that ended while
   * detached, instead of taking the next turn's events for this one's. Default: never.
   */
  movedOn?: (loop: Loop) => Promise<boolean>;
}

/** A watch already open on the loop (see followWatch): its iterator, the next pending read, how to close it. */
export interface OpenWatch {
  it: AsyncIterator<LoopEvent>;
  pending: Promise<IteratorResult<LoopEvent>>;
  close(): void;
}

/** Sends one message and yields ONE continuous event stream for the turn, surviving cuts (see above). */
export async function* followTurn(
  client: LoopClient,
  loopId: string,
  input: SendMessageInput,
  o: FollowOptions & { idempotencyKey: string },
): AsyncIterable<TurnEvent> {
  const f = new Follower(client, loopId, o, '', true);
  const post = client.sendMessage(loopId, input, { idempotencyKey: o.idempotencyKey, signal: o.signal });
  let first = true;
  for await (const ev of post) {
    if (first && ev.type === 'queued') f.queued = true;
    first = false;
    let verdict = f.handle(ev);
    if (typeof verdict !== 'string') verdict = await verdict;
    if (verdict === 'skip') continue;
    yield ev;
    if (verdict === 'end') return;
  }
  f.throwIfAborted();
  yield* f.reattach();
}

/**
 * Re-follows a turn already sent (after a bridge restart): attaches via /events + GET polling.
 * `textSoFar` is what the bridge already has, so nothing is doubled.
 */
export async function* resumeTurn(
  client: LoopClient,
  loopId: string,
  o: FollowOptions & { textSoFar: string },
): AsyncIterable<TurnEvent> {
  const f = new Follower(client, loopId, o, o.textSoFar, false);
  yield* f.reattach();
}

/**
 * Follows a turn on a watch that was attached before the turn started (a steering message that runs as a
 * turn of its own, see steer.ts): nothing of it was missed, so no detached window opens until a cut.
 * Later cuts are handled as in followTurn (rules 4–7).
 */
export async function* followWatch(client: LoopClient, loopId: string, watch: OpenWatch, o: FollowOptions): AsyncIterable<TurnEvent> {
  const f = new Follower(client, loopId, o, '', true);
  yield* f.reattach(watch);
}

/**
 * True when `s` reads as our deltas in order with at least one of them repeated back to back: the
 * [IMPL] tracker appends every delta once per open listener, so "AlphaAlpha…" after we got "Alpha" is
 * far more likely duplication than new text. (Then s may start with what we have and still be wrong.)
 */
export function repeatsDeltas(s: string, deltas: readonly string[]): boolean {
  let pos = 0;
  let repeated = false;
  for (let i = 0; i < deltas.length; ) {
    const d = deltas[i];
    let run = 1;
    while (i + run < deltas.length && deltas[i + run] === d) run++;
    i += run;
    if (d.length === 0) continue;
    let copies = 0;
    while (s.startsWith(d, pos)) {
      pos += d.length;
      copies++;
    }
    if (copies < run) return false;
    if (copies > run) repeated = true;
  }
  return repeated;
}

/** Default of `FollowOptions.maxTextChars`: 1 Mi chars. */
export const DEFAULT_MAX_TEXT_CHARS = 1024 * 1024;

const TICK = Symbol('tick');

/** A stretch with no stream of ours attached whose completeness is not yet known (rule 5a). */
interface DetachedWindow {
  since: number;
  /** When a stream was attached again (the judgement's reference for N). */
  attachedAt?: number;
  /** Tools open at the cut; non-empty = the loop was inside a tool step, not writing. */
  openAtCut: Set<string>;
  /** Attached again, the loop was inside a tool step: waiting for that step's result as proof. */
  verifying: boolean;
}

const toolIdOfChoice = (choiceId: string): string => choiceId.replace(/^choice_/, '');

/** Resolves with `p`'s result, or TICK after `ms` (the pending `p` stays usable). */
function raceTick<T>(p: Promise<T>, ms: number): Promise<T | typeof TICK> {
  let h: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TICK>((res) => (h = setTimeout(() => res(TICK), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(h));
}

/** What to do with one server event: yield it, drop it, or yield it and end the follow. */
type Verdict = 'pass' | 'skip' | 'end';

class Follower {
  /** The POST began with `queued`: terminals may belong to the turn ahead of ours (rule 3). */
  queued = false;
  private turnId: string | undefined;
  /** Text yielded since the last swallowed terminal: what a snapshot must extend. */
  private segmentText: string;
  /** Where each delta of segmentText ends, to recognise [IMPL] duplicated snapshot text (offsets, not copies). */
  private segmentEnds: number[];
  private snapshotsUsable = true;
  private readonly seenChoices = new Set<string>();
  /** Tools called and not yet reported back (a choice counts as its tool): the loop is inside a tool step. */
  private readonly openTools = new Set<string>();
  /** The detached window not yet known to be complete (rule 5a). */
  private window: DetachedWindow | undefined;
  private readonly pollIntervalMs: number;
  private readonly giveUpAfterMs: number;
  private readonly maxTextChars: number;

  constructor(
    private readonly client: LoopClient,
    private readonly loopId: string,
    private readonly o: FollowOptions,
    textSoFar: string,
    private readonly reportUnseenChoices: boolean,
  ) {
    this.segmentText = textSoFar;
    this.segmentEnds = textSoFar ? [textSoFar.length] : [];
    this.pollIntervalMs = o.pollIntervalMs ?? 1_000;
    this.maxTextChars = o.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
    this.giveUpAfterMs = o.giveUpAfterMs ?? 120_000;
  }

  throwIfAborted(): void {
    if (this.o.signal?.aborted) throw transportError('aborted', 'follow', this.o.signal.reason);
  }

  /** Decides what to do with one server event (async only for a terminal that may not be ours). */
  handle(ev: LoopEvent): Verdict | Promise<Verdict> {
    this.lastContact = Date.now();
    switch (ev.type) {
      case 'started':
        this.turnId = ev.turnId;
        break;
      case 'assistant_delta':
        if (!this.snapshotsUsable) break;
        if (this.segmentText.length + ev.text.length > this.maxTextChars) {
          // Past the turn's text limit the reply is cut anyway: stop holding a copy to compare snapshots with.
          this.snapshotsUsable = false;
          this.segmentText = '';
          this.segmentEnds = [];
          break;
        }
        this.segmentText += ev.text;
        this.segmentEnds.push(this.segmentText.length);
        break;
      case 'requires_choice':
        this.seenChoices.add(ev.choiceId);
        this.openTools.add(toolIdOfChoice(ev.choiceId));
        break;
      case 'tool_call':
        this.openTools.add(ev.toolUseId);
        break;
      case 'tool_result':
        this.openTools.delete(ev.toolUseId);
        break;
      case 'sdk_message':
        // A message taken in at a tool step ends that step without a tool_result ([IMPL] §4.5).
        if (ev.userText !== undefined) this.openTools.clear();
        break;
      case 'snapshot':
        return 'skip'; // only meaningful as a watch's first event (see reattach)
      case 'done':
      case 'interrupted':
      case 'error':
        this.openTools.clear();
        return this.queued ? this.terminalWhileQueued() : 'end';
      default:
        break;
    }
    return 'pass';
  }

  /** Rule 3: a terminal on a POST that began `queued` may be the turn ahead's. */
  private async terminalWhileQueued(): Promise<Verdict> {
    const loop = await this.getLoop();
    if (!loop?.busy) return 'end';
    // The turn ahead of ours ended; ours runs next (or was injected into it and continues).
    this.segmentText = '';
    this.segmentEnds = [];
    this.snapshotsUsable = true;
    return 'skip';
  }

  /** The deltas that make up segmentText (rebuilt from offsets; only needed when a snapshot differs). */
  private segmentDeltas(): string[] {
    return this.segmentEnds.map((end, i) => this.segmentText.slice(i === 0 ? 0 : this.segmentEnds[i - 1], end));
  }

  private reconcile(snap: Extract<LoopEvent, { type: 'snapshot' }>): TurnEvent[] {
    this.turnId ??= snap.turnId;
    const out: TurnEvent[] = [];
    let proven = false;
    if (this.snapshotsUsable) {
      const have = this.segmentText;
      const s = snap.assistantTextSoFar;
      if (s !== have) {
        if (s.startsWith(have) && !repeatsDeltas(s, this.segmentDeltas())) {
          const missing = s.slice(have.length);
          // The server's copy skips what an earlier follower missed: say so where that hole may be.
          if (this.o.snapshotHasHoles && !this.o.snapshotComplete) {
            out.push({ type: 'gap', reason: 'text written while an earlier process followed this turn may be missing' });
          }
          out.push({ type: 'assistant_delta', text: missing });
          this.segmentText = s;
          this.segmentEnds.push(s.length);
          proven = !this.o.snapshotHasHoles || this.o.snapshotComplete === true;
        } else {
          this.snapshotsUsable = false;
          this.window = undefined; // this gap covers the window too
          out.push({
            type: 'gap',
            reason:
              `after reconnecting, the server's text so far (${s.length} chars) does not continue the ` +
              `${have.length} chars already received (the server may hold text twice when several streams ` +
              'were open); text produced while disconnected may be missing',
          });
        }
      } else if (this.o.snapshotComplete) {
        proven = true;
      }
    }
    if (proven) this.window = undefined;
    else out.push(...this.attached());
    const pending = snap.pendingChoiceId;
    if (pending && this.reportUnseenChoices && !this.seenChoices.has(pending)) {
      this.seenChoices.add(pending);
      out.push({
        type: 'gap',
        reason: `a choice (${pending}) was asked while disconnected; its question could not be recovered`,
      });
    }
    return out;
  }

  /** A stream of ours is attached again after a cut (rule 5a). */
  private detached(at: number): void {
    this.window ??= { since: at, openAtCut: new Set(this.openTools), verifying: false };
  }

  /**
   * Attached again and nothing proved the window complete: a gap now if the loop was writing at the cut;
   * inside a tool step, wait for the evidence (see `judge`).
   */
  private attached(): TurnEvent[] {
    const w = this.window;
    if (!w || w.verifying) return [];
    w.attachedAt = Date.now();
    if (w.openAtCut.size > 0) {
      w.verifying = true;
      return [];
    }
    return [this.windowGap()];
  }

  /** While verifying a window: the gap to yield before `ev`, if `ev` shows the tool step ended unseen. */
  private judge(ev: LoopEvent): TurnEvent | undefined {
    const w = this.window;
    if (!w?.verifying) return undefined;
    switch (ev.type) {
      case 'tool_result':
        if (w.openAtCut.has(ev.toolUseId)) this.window = undefined; // the step was still running: nothing missed
        return undefined;
      case 'sdk_message':
        // A message injected at the step ends it without a tool_result: seen live, so nothing was missed.
        if (ev.userText !== undefined) this.window = undefined;
        return undefined;
      case 'requires_choice':
      case 'choice_resolved':
      case 'tool_call':
        if (w.openAtCut.has(toolIdOfChoice(ev.type === 'tool_call' ? ev.toolUseId : ev.choiceId))) return undefined;
        return this.windowGap();
      case 'interrupted':
        // Stopped inside the step: nothing followed it.
        this.window = undefined;
        return undefined;
      case 'assistant_delta':
      case 'thinking_delta':
      case 'done':
      case 'error':
        return this.windowGap();
      case 'oversized':
        return ev.event === 'assistant_delta' ? this.windowGap() : undefined;
      default:
        return undefined;
    }
  }

  private windowGap(): TurnEvent {
    const w = this.window!;
    this.window = undefined;
    return { type: 'gap', reason: disconnectedReason((w.attachedAt ?? Date.now()) - w.since) };
  }

  private endedWhileDetached(): TurnEvent[] {
    const since = this.window?.since ?? Date.now();
    this.window = undefined;
    return [
      { type: 'gap', reason: `${disconnectedReason(Date.now() - since)}, and the turn ended meanwhile; what it wrote then could not be recovered` },
      { type: 'done', turnId: this.turnId ?? '' },
    ];
  }

  private lastContact = Date.now();
  private lastError: unknown;

  /** GET /loops/{id}; undefined on a transient failure (5xx/network), throws 4xx and aborts. */
  private async getLoop(): Promise<Loop | undefined> {
    try {
      const loop = await this.client.getLoop(this.loopId, { signal: this.o.signal });
      this.lastContact = Date.now();
      return loop;
    } catch (err) {
      this.throwIfAborted();
      if (err instanceof LoopApiError && !err.retryable) throw err;
      this.lastError = err;
      return undefined;
    }
  }

  private checkGiveUp(): void {
    if (Date.now() - this.lastContact > this.giveUpAfterMs) {
      throw new LoopTransportError({
        code: 'timeout',
        message: `gave up following the turn: no contact with the server for ${this.giveUpAfterMs} ms`,
        retryable: true,
        cause: this.lastError,
      });
    }
  }

  /**
   * Rules 4–7: follow the rest of the turn on /events with GET polling. `handed`: a watch attached since
   * before the turn began (followWatch), used first; nothing was missed on it.
   */
  async *reattach(handed?: OpenWatch): AsyncGenerator<TurnEvent> {
    let quietOpens = 0;
    this.lastContact = Date.now(); // the give-up clock starts at the cut, not when the turn began
    // A restart's window began when the old process lost its stream, not at this follow's first cut.
    if (!handed) this.detached(Math.min(this.o.detachedSince ?? Infinity, Date.now()));
    for (;;) {
      const given = handed;
      handed = undefined;
      if (!given) this.detached(Date.now());
      this.throwIfAborted();
      this.checkGiveUp();
      const ac = new AbortController();
      const onAbort = () => ac.abort();
      this.o.signal?.addEventListener('abort', onAbort, { once: true });
      const it = given?.it ?? this.client.watch(this.loopId, { signal: ac.signal })[Symbol.asyncIterator]();
      let pending: Promise<IteratorResult<LoopEvent>> = given?.pending ?? it.next();
      // A handed watch is mid-stream (its snapshot, if any, was read by whoever opened it) and was attached
      // all along: no snapshot to expect, and no need to ask the server at once whether the turn still runs.
      let firstEvent = !given;
      let delivered = false;
      let polledAtOpen = !!given;
      try {
        for (;;) {
          let r = await raceTick(pending, polledAtOpen ? this.pollIntervalMs : 0);
          if (r === TICK) {
            const atOpen = !polledAtOpen;
            polledAtOpen = true;
            const loop = await this.getLoop();
            if (!loop) {
              this.checkGiveUp();
              continue;
            }
            if (atOpen && this.o.movedOn && (await this.o.movedOn(loop))) {
              // What runs now is the next turn: this one ended while we were detached.
              yield* this.endedWhileDetached();
              return;
            }
            this.turnId ??= loop.current_turn?.turn_id ?? undefined;
            if (loop.busy) continue;
            // Idle: unless the terminal is already waiting on the watch, the turn ended while detached.
            r = await raceTick(pending, 0);
            if (r === TICK) {
              yield* this.endedWhileDetached();
              return;
            }
          }
          if (r.done) break; // cut: reopen
          pending = it.next();
          this.lastContact = Date.now();
          delivered = true;
          const ev = r.value;
          if (firstEvent && ev.type === 'snapshot') {
            firstEvent = false;
            yield* this.reconcile(ev);
            continue;
          }
          if (firstEvent) yield* this.attached(); // no snapshot to compare with: nothing proves the window
          firstEvent = false;
          const gap = this.judge(ev);
          if (gap) yield gap;
          let verdict = this.handle(ev);
          if (typeof verdict !== 'string') verdict = await verdict;
          if (verdict === 'skip') continue;
          yield ev;
          if (verdict === 'end') return;
        }
      } catch (err) {
        this.throwIfAborted();
        if (err instanceof LoopApiError && !err.retryable) throw err;
        this.lastError = err;
        delivered = false;
      } finally {
        this.o.signal?.removeEventListener('abort', onAbort);
        if (given) given.close();
        ac.abort(); // ends the watch so the pending next() settles and the socket is freed
        pending.catch(() => {});
        void it.return?.(undefined)?.catch(() => {});
      }
      if (delivered) {
        quietOpens = 0;
      } else {
        // Opened and closed with nothing (or failed): back off so a flapping server is not hammered.
        await sleep(backoffDelay(quietOpens++, { baseDelayMs: 100, maxDelayMs: 2_000 }), this.o.signal);
      }
    }
  }
}

/** The plain words of the gap note, N in whole seconds (at least 1). */
function disconnectedReason(ms: number): string {
  return `loopbridge was disconnected for ${Math.max(1, Math.round(ms / 1000))} s while the loop was writing`;
}
