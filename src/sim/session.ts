// Per-loop turn engine, modelled on loopat's LoopSession: one running turn, an in-memory FIFO, queue
// injection at the next tool step (§4.5), choices with timeouts (§5), interrupt (§4.6), and the
// shared per-loop tracker that every listener's mapper mutates (§4.8 quirks).
import { randomUUID } from 'node:crypto';
import type { CurrentTurn, PermissionMode } from '../loop-api/types.js';
import type { TurnAgent } from './agent.js';
import { newToolUseId, newTurnId } from './ids.js';
import type { ResolvedSimOptions, ScriptStep, StepOutcome } from './options.js';
import { mapSdk, type SessionMessage } from './session-mapping.js';

/** Something attached to the session's broadcasts: a POST stream or a GET /events watcher. */
export interface Listener {
  deliver(event: string, data: unknown): void;
}

/** A user message handed to the session. */
export interface Incoming {
  content: string;
  imageCount: number;
  /** Runs when the message starts being processed (turn start or injection). */
  onStart?: () => void;
}

interface Tracker {
  turnId: string | null;
  startedAt: string | null;
  text: string;
  pendingChoiceId: string | null;
}

interface PendingChoice {
  kind: 'permission' | 'question';
  settle: (o: StepOutcome | null) => void;
}

/** What the session needs from the simulator. */
export interface SessionHost {
  readonly opts: ResolvedSimOptions;
  agentFor(loopUuid: string, content: string): TurnAgent;
  /** Resolves once `sim.release(name)` was called (at once if it was already). */
  gate(name: string): Promise<void>;
}

const emptyTracker = (): Tracker => ({ turnId: null, startedAt: null, text: '', pendingChoiceId: null });

/** Resolves true after ms, false as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves true once `released` settles, false as soon as the signal aborts. */
function untilReleased(released: Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    void released.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}

export class LoopSession {
  /** In subscription order: the first one is the "first listener" of the done-turn_id quirk. */
  private listeners: Listener[] = [];
  /** Contents the model received, one per turn start or injection. */
  readonly received: string[] = [];
  /** Images attached to each received message (same order as `received`). */
  readonly receivedImages: number[] = [];
  private readonly queue: Incoming[] = [];
  private generating = false;
  private processing = false;
  private tracker: Tracker = emptyTracker();
  /** [IMPL] a fresh session starts in bypassPermissions. */
  mode: PermissionMode = 'bypassPermissions';
  private readonly pending = new Map<string, PendingChoice>();
  private abort: AbortController | null = null;
  private closed = false;
  private readonly sessionId = randomUUID();
  /** Turns begun so far (for cold_start when that quirk is off). */
  turnsBegun = 0;
  /** Every assistant text the current (or last) turn produced, listeners or not: the ground truth for tests. */
  written = '';

  constructor(
    private readonly host: SessionHost,
    readonly loopUuid: string,
  ) {}

  /** A turn is generating, the queue is non-empty, or the queue is being processed. */
  get busy(): boolean {
    return this.generating || this.processing || this.queue.length > 0;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get listenerCount(): number {
    return this.listeners.length;
  }

  currentTurn(): CurrentTurn | null {
    if (!this.busy) return null;
    const t = this.tracker;
    return { turn_id: t.turnId, started_at: t.startedAt, pending_choice_id: t.pendingChoiceId };
  }

  /** The `snapshot` a new watcher gets, or null (only when busy and a turn ID is tracked). */
  snapshot(): { turn_id: string; assistant_text_so_far: string; pending_choice_id: string | null } | null {
    const t = this.tracker;
    if (!this.busy || !t.turnId) return null;
    return { turn_id: t.turnId, assistant_text_so_far: t.text, pending_choice_id: t.pendingChoiceId };
  }

  subscribe(l: Listener): void {
    this.listeners.push(l);
  }

  unsubscribe(l: Listener): void {
    this.listeners = this.listeners.filter((x) => x !== l);
  }

  /** POST /messages handed out a turn ID: it overwrites the tracked one, even while another turn runs. */
  trackStarted(turnId: string): void {
    const now = new Date().toISOString();
    if (!this.busy) this.tracker = { turnId, startedAt: now, text: '', pendingChoiceId: null };
    else {
      this.tracker.turnId = turnId;
      this.tracker.startedAt ??= now;
    }
  }

  /** Queues the message if busy (returns its position), otherwise starts a turn (returns null). */
  send(msg: Incoming): number | null {
    if (this.busy) {
      this.queue.push(msg);
      this.broadcastQueue();
      return this.queue.length;
    }
    void this.drive(msg);
    return null;
  }

  /** Answers a pending choice; false when none of that kind is pending under this tool_use_id. */
  answer(toolUseId: string, body: { allow: boolean } | { answers: Record<string, unknown> }): boolean {
    const p = this.pending.get(toolUseId);
    const kind = 'allow' in body ? 'permission' : 'question';
    if (!p || p.kind !== kind) return false;
    // choice_resolved goes out before the agent continues (the settle continuation runs later).
    this.broadcast({ kind: 'synthetic', event: 'choice_resolved', data: { choice_id: `choice_${toolUseId}`, source: 'api' } });
    this.tracker.pendingChoiceId = null;
    p.settle('allow' in body ? { allowed: body.allow } : { answers: body.answers });
    return true;
  }

  /** POST /interrupt: aborts the running turn (rejecting its pending choice) but keeps the queue. */
  interrupt(): void {
    const tracked = this.tracker.turnId;
    if (this.abort) {
      this.generating = false;
      this.abort.abort();
    }
    if (tracked) this.broadcast({ kind: 'synthetic', event: 'interrupted', data: { turn_id: tracked } });
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.abort?.abort();
    this.listeners = [];
  }

  private async drive(first: Incoming): Promise<void> {
    this.processing = true;
    try {
      // Start on a later tick so the POST handler has finished wiring its stream (busy is already true).
      await new Promise<void>((r) => setImmediate(r));
      let next: Incoming | undefined = first;
      while (next && !this.closed) {
        await this.runTurn(next);
        next = this.queue.shift();
        if (next) this.broadcastQueue();
      }
    } finally {
      this.processing = false;
    }
  }

  private sdk(payload: Record<string, unknown>): void {
    this.broadcast({ kind: 'sdk', payload: { ...payload, session_id: this.sessionId } });
  }

  private broadcastQueue(): void {
    this.sdk({ type: 'queue_update', queue: this.queue.map((m) => m.content) });
  }

  private async runTurn(first: Incoming): Promise<void> {
    const ac = new AbortController();
    this.abort = ac;
    const sig = ac.signal;
    const t0 = Date.now();
    let msg: Incoming | undefined = first;
    let text = '';
    let inputChars = 0;
    let numTurns = 0;
    this.generating = true;
    this.turnsBegun++;
    this.written = '';
    try {
      while (msg) {
        const cur: Incoming = msg;
        msg = undefined;
        this.received.push(cur.content);
        this.receivedImages.push(cur.imageCount);
        cur.onStart?.();
        numTurns++;
        inputChars += cur.content.length;
        this.sdk({ type: 'system', subtype: 'init', model: 'sim-model', permissionMode: this.mode, tools: ['Bash', 'Read', 'AskUserQuestion'] });
        this.sdk({ type: 'user', message: { role: 'user', content: cur.content }, parent_tool_use_id: null });
        const agent = this.host.agentFor(this.loopUuid, cur.content);
        let outcome: StepOutcome | undefined;
        for (;;) {
          const r = agent.next(outcome);
          outcome = undefined;
          if (r.done) break;
          const step = r.value;
          if (step.delayMs && !(await sleep(step.delayMs, sig))) return this.endAborted();
          if (step.gate !== undefined && !(await untilReleased(this.host.gate(step.gate), sig))) return this.endAborted();
          if (sig.aborted) return this.endAborted();
          if (step.delta !== undefined) {
            text += step.delta;
            this.written += step.delta;
            this.sdk({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: step.delta } } });
          } else if (step.thinking !== undefined) {
            this.sdk({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', text: step.thinking } } });
          } else if (step.raw) {
            this.broadcast({ kind: 'raw', event: step.raw.event, data: step.raw.data });
          } else if (step.error !== undefined) {
            this.sdk({ type: 'error', message: step.error });
            this.sdk({ type: 'result' }); // synthetic result after an SDK error: watchers see error then done
            return;
          } else if (step.tool || step.permission || step.question) {
            const res = await this.toolStep(step, sig);
            if (!res) return this.endAborted();
            const toolResult = (): void =>
              this.sdk({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: res.id, is_error: !res.ok }] } });
            if (this.queue.length > 0) {
              // Injection (§4.5): the running query is abandoned and the queued message continues the turn.
              if (!this.host.opts.quirks.noToolResultAtInjection) toolResult();
              msg = this.queue.shift();
              this.broadcastQueue();
              agent.return();
              break;
            }
            toolResult();
            outcome = res.outcome;
          }
        }
      }
      this.sdk({
        type: 'result',
        subtype: 'success',
        is_error: false,
        result: text,
        num_turns: numTurns,
        duration_ms: Date.now() - t0,
        total_cost_usd: Number(((inputChars + text.length) * 1e-6).toFixed(6)),
        usage: {
          input_tokens: Math.ceil(inputChars / 4),
          output_tokens: Math.ceil(text.length / 4),
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
        },
        modelUsage: { 'sim-model': { inputTokens: Math.ceil(inputChars / 4), outputTokens: Math.ceil(text.length / 4), cacheReadInputTokens: 0, cacheCreationInputTokens: 0 } },
      });
    } finally {
      this.generating = false;
      if (this.abort === ac) this.abort = null;
    }
  }

  /** After an interrupt the SDK still produces a bare result, which becomes `done`. */
  private endAborted(): void {
    if (!this.closed) this.sdk({ type: 'result' });
  }

  private async toolStep(step: ScriptStep, sig: AbortSignal): Promise<{ id: string; ok: boolean; outcome: StepOutcome } | null> {
    const toolUse = (id: string, name: string, input: Record<string, unknown>): void =>
      this.sdk({ type: 'assistant', message: { role: 'assistant', content: [{ type: 'tool_use', id, name, input }] }, parent_tool_use_id: null });
    if (step.tool) {
      const id = step.tool.id ?? newToolUseId();
      toolUse(id, step.tool.name, step.tool.input ?? {});
      if (!(await sleep(step.tool.runMs ?? 0, sig))) return null;
      return { id, ok: step.tool.ok ?? true, outcome: {} };
    }
    if (step.permission) {
      const p = step.permission;
      const id = p.toolId ?? newToolUseId();
      toolUse(id, p.tool, p.input ?? {});
      this.sdk({ type: 'permission_prompt', tool_use_id: id, tool_name: p.tool, ...(p.title ? { title: p.title } : {}) });
      const o = await this.waitChoice(id, 'permission', this.host.opts.permissionTimeoutMs, sig);
      return o ? { id, ok: o.allowed === true, outcome: o } : null;
    }
    const q = step.question!;
    const id = q.toolId ?? newToolUseId();
    toolUse(id, 'AskUserQuestion', { questions: q.questions });
    this.sdk({ type: 'question', tool_use_id: id, questions: q.questions });
    const o = await this.waitChoice(id, 'question', this.host.opts.questionTimeoutMs, sig);
    return o ? { id, ok: !o.timedOut, outcome: o } : null;
  }

  /** Waits for an answer; a timeout auto-denies (permission) or fails (question) with no choice_resolved. */
  private waitChoice(id: string, kind: PendingChoice['kind'], ms: number, sig: AbortSignal): Promise<StepOutcome | null> {
    if (sig.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const finish = (o: StepOutcome | null): void => {
        clearTimeout(timer);
        sig.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        resolve(o);
      };
      const onAbort = (): void => finish(null);
      const timer = setTimeout(() => finish(kind === 'permission' ? { allowed: false, timedOut: true } : { timedOut: true }), ms);
      sig.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, { kind, settle: finish });
    });
  }

  /**
   * Writes one session message to every listener. As on the real server the mapper runs once per
   * listener against the shared tracker, so with the quirks on text is appended N times and only
   * the first listener's `done` carries the tracked turn ID.
   */
  private broadcast(m: SessionMessage): void {
    if (this.closed) return;
    const ls = [...this.listeners];
    if (m.kind !== 'sdk') {
      for (const l of ls) l.deliver(m.event, m.data);
      return;
    }
    const q = this.host.opts.quirks;
    const mapped = mapSdk(m.payload);
    const track = (): void => {
      if (mapped.delta !== undefined) this.tracker.text += mapped.delta;
      if (mapped.choiceId) this.tracker.pendingChoiceId = mapped.choiceId;
    };
    const takeDoneId = (): string => {
      const id = this.tracker.turnId ?? newTurnId();
      this.tracker = emptyTracker();
      return id;
    };
    if (!q.snapshotTextDuplicated) track();
    const sharedDoneId = mapped.done && !q.doneTurnIdMismatch ? takeDoneId() : undefined;
    for (const l of ls) {
      if (q.snapshotTextDuplicated) track();
      l.deliver('sdk_message', m.payload);
      for (const e of mapped.events) l.deliver(e.event, e.data);
      if (mapped.done) l.deliver('done', { turn_id: sharedDoneId ?? takeDoneId() });
    }
  }
}
