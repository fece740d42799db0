// /attach: follow a loop's events stream and show turns that other clients run on it as live replies.
// Our own turns on that loop are already shown by the turn runner, so their events are skipped here.

import type { LoopClient } from '../loop-api/client.js';
import { LoopApiError } from '../loop-api/errors.js';
import type { Sender } from './adapter-types.js';
import type { ChoiceRegistry } from './choices.js';
import { classifyTurnFailure } from './failure-kind.js';
import { LiveMessage } from './live-message.js';
import type { Outlet } from './outlet.js';
import { renderTurn } from './render.js';
import type { ConversationRecord } from './state.js';
import { applyEvent, newProgress, type TurnProgress } from './turn-view.js';

export interface MirrorDeps {
  client: LoopClient;
  choices: ChoiceRegistry;
  /** True while one of our own turns runs on this loop. */
  ownTurnRunning: (loopId: string) => boolean;
  editIntervalMs: { direct: number; group: number };
  showTools: boolean;
  log: { warn(obj: object, msg?: string): void };
}

export class Mirrors {
  private readonly active = new Map<string, AbortController>();

  constructor(private readonly deps: MirrorDeps) {}

  start(outlet: Outlet, conv: ConversationRecord, owner: Sender): void {
    this.stop(conv.key);
    if (!conv.loopId) return;
    const ac = new AbortController();
    this.active.set(conv.key, ac);
    void this.run(outlet, conv, conv.loopId, owner, ac.signal);
  }

  /** True while a mirror of this conversation runs here. */
  has(convKey: string): boolean {
    return this.active.has(convKey);
  }

  stop(convKey: string): void {
    this.active.get(convKey)?.abort();
    this.active.delete(convKey);
  }

  stopAll(): void {
    for (const k of [...this.active.keys()]) this.stop(k);
  }

  private async run(outlet: Outlet, conv: ConversationRecord, loopId: string, owner: Sender, signal: AbortSignal): Promise<void> {
    let turn: { progress: TurnProgress; live: LiveMessage } | null = null;
    const caps = outlet.adapter.capabilities;
    const render = (p: TurnProgress) =>
      renderTurn(p.view, { maxLength: caps.maxTextLength, measure: caps.measure, showTools: this.deps.showTools }).map((text) => ({ text }));
    let backoff = 500;
    while (!signal.aborted) {
      try {
        // The server idle-cuts quiet streams; reopening is the normal path, not an error.
        for await (const ev of this.deps.client.watch(loopId, { signal })) {
          backoff = 500;
          if (this.deps.ownTurnRunning(loopId)) {
            turn = null;
            continue;
          }
          if (ev.type === 'ping' || ev.type === 'sdk_message' || ev.type === 'unknown') continue;
          if (ev.type === 'oversized' && ev.event !== 'assistant_delta') continue; // a huge tool output: nothing to show
          if (!turn) {
            if (ev.type === 'done' || ev.type === 'interrupted' || ev.type === 'error' || ev.type === 'choice_resolved') continue;
            turn = {
              progress: newProgress(),
              live: new LiveMessage({
                adapter: outlet.adapter,
                scheduler: outlet.scheduler,
                conversation: conv.ref,
                target: outlet.target(conv.ref),
                editIntervalMs: conv.ref.isDirect ? this.deps.editIntervalMs.direct : this.deps.editIntervalMs.group,
                signal,
              }),
            };
          }
          const t = turn;
          if (ev.type === 'snapshot') {
            applyEvent(t.progress, { type: 'assistant_delta', text: ev.assistantTextSoFar });
          } else {
            applyEvent(t.progress, ev);
          }
          if (ev.type === 'requires_choice') {
            await this.deps.choices.open({ outlet, conversation: conv.ref, loopId, owner, toolSummaries: t.progress.toolSummaries }, ev);
          } else if (ev.type === 'choice_resolved') {
            await this.deps.choices.resolved(outlet, loopId, ev.choiceId);
          }
          if (t.progress.ended) {
            await t.live.finish(render(t.progress)).catch(() => {});
            await this.deps.choices.turnEnded(outlet, loopId);
            turn = null;
          } else {
            t.live.update(render(t.progress));
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        // Our token refused is an outage of ours, not the end of the mirror: keep trying with the backoff.
        if (err instanceof LoopApiError && !err.retryable && classifyTurnFailure(err).kind !== 'loop-auth') {
          this.deps.log.warn({ loopId, code: err.code }, 'mirror stopped');
          return;
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  }
}
