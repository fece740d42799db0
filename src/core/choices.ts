// Choices (permission prompts and questions) as buttons or typed answers. Button payloads are random
// tokens mapped in the store, so a press can't be forged; a choice is answered once, only by the person
// whose message started the turn or an admin, and its message then shows the outcome instead of buttons.

import { randomBytes } from 'node:crypto';
import type { LoopClient } from '../loop-api/client.js';
import { LoopNotFoundError } from '../loop-api/errors.js';
import type { Question, RequiresChoiceEvent } from '../loop-api/types.js';
import type { Button, ConversationRef, InboundPress, OutboundMessage, Sender } from './adapter-types.js';
import { conversationKey, qualifiedUserId } from './adapter-types.js';
import type { WithClient } from './loop-clients.js';
import { UserTokenError } from './loop-clients.js';
import type { Outlet } from './outlet.js';
import type { Store } from '../store/store.js';
import { keys, type ChoiceRecord } from './state.js';

export interface ChoiceContext {
  outlet: Outlet;
  conversation: ConversationRef;
  loopId: string;
  /** Whoever started the turn. */
  owner: Sender;
  /** tool_use_id → input summary from the turn's tool_call events. */
  toolSummaries: Record<string, string>;
}

export interface ChoiceDeps {
  store: Store;
  client: LoopClient;
  /** The client that drives a conversation's loop (access.loopTokens per-user). Default: `client` for all. */
  withClient?: WithClient;
  isAdmin: (qualifiedUser: string) => boolean;
  log: { warn(obj: object, msg?: string): void };
}

/**
 * How long an answered or expired choice still answers a late press with its outcome, ms: 1 h. (Its
 * message already shows the outcome without buttons; after this a press says the button is not valid.)
 */
export const FINISHED_CHOICE_TTL_MS = 3600_000;

/** What a typed message did to a pending choice (`duplicate`: its claim failed, nothing done). */
export type TypedAnswerResult = 'answered' | 'not-a-choice-answer' | 'duplicate';

export class ChoiceRegistry {
  /** Per-token serialisation: a double press must not answer twice. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly answering = new Set<string>();

  constructor(private readonly deps: ChoiceDeps) {}

  /** Shows a choice (once per choice id, also when a restarted turn replays it). */
  async open(ctx: ChoiceContext, ev: RequiresChoiceEvent): Promise<void> {
    const { store } = this.deps;
    const indexKey = keys.choiceIndex(ctx.loopId, ev.choiceId);
    const existing = await store.get<string>(indexKey);
    if (existing) return;
    const token = randomBytes(16).toString('base64url');
    const rec: ChoiceRecord = {
      token,
      convKey: conversationKey(ctx.conversation),
      conversation: ctx.conversation,
      loopId: ctx.loopId,
      choiceId: ev.choiceId,
      kind: ev.kind,
      owners: [qualifiedUserId(ctx.conversation.platform, ctx.owner.id)],
      ownerName: ctx.owner.displayName,
      state: 'pending',
      step: 0,
      answers: {},
      toggled: [],
      createdAt: Date.now(),
    };
    if (ev.kind === 'permission') {
      rec.permission = { ...ev.payload, summary: ctx.toolSummaries[ev.choiceId.replace(/^choice_/, '')] ?? ev.payload.command };
    } else {
      rec.question = ev.payload;
    }
    await store.set(keys.choice(token), rec);
    await store.set(indexKey, token);
    await store.set(keys.pendingChoice(rec.convKey), token);
    const open = (await store.get<string[]>(keys.openChoices(ctx.loopId))) ?? [];
    await store.set(keys.openChoices(ctx.loopId), [...open, token]);
    const message = await ctx.outlet.send(ctx.conversation, this.render(rec, ctx.outlet));
    // An answer can arrive before send returns (a reaction on a message that exists but is still being
    // decorated): record the message on the current record, and show an outcome it could not edit in.
    await this.serial(token, async () => {
      const fresh = (await store.get<ChoiceRecord>(keys.choice(token))) ?? rec;
      fresh.message = message;
      if (fresh.state === 'pending') await store.set(keys.choice(token), fresh);
      // Finished meanwhile: the stored record is kept slim (no payload, a TTL), so the outcome is rendered
      // with this record's payload, and `save` keeps it slim and expiring.
      else await this.save(ctx.outlet, { ...fresh, question: rec.question, permission: rec.permission });
    });
  }

  /** A button press from the platform. Every press gets an answer. */
  async press(outlet: Outlet, press: InboundPress): Promise<void> {
    const dot = press.token.lastIndexOf('.');
    const token = dot > 0 ? press.token.slice(0, dot) : press.token;
    const action = dot > 0 ? press.token.slice(dot + 1) : '';
    await this.serial(token, async () => {
      const rec = await this.deps.store.get<ChoiceRecord>(keys.choice(token));
      if (!rec || rec.convKey !== conversationKey(press.conversation)) {
        return outlet.answerPress(press, 'This button is not valid any more.');
      }
      const notice = await this.act(outlet, rec, press.sender, action);
      await outlet.answerPress(press, notice);
    });
  }

  /**
   * A typed message while a choice is pending in the conversation: numbers/allow/deny in text-button mode,
   * or a free-text answer to a question. Returns whether it was taken as an answer. `claim` runs right
   * before answering (the message's dedupe mark); if it returns false nothing is done.
   */
  async typed(outlet: Outlet, convKey: string, sender: Sender, text: string, claim: () => Promise<boolean> = async () => true): Promise<TypedAnswerResult> {
    const token = await this.deps.store.get<string>(keys.pendingChoice(convKey));
    if (!token) return 'not-a-choice-answer';
    const rec = await this.deps.store.get<ChoiceRecord>(keys.choice(token));
    if (!rec || rec.state !== 'pending') return 'not-a-choice-answer';
    if (!this.allowed(rec, sender)) {
      // `!allow`, `!2`…: an explicit answer command is never text for the loop, whoever sends it.
      if (!EXPLICIT_ANSWER.test(text.trim())) return 'not-a-choice-answer';
      await outlet.send(rec.conversation, { text: `Only ${rec.ownerName ?? 'the person who asked'} or an admin can answer this.`, plain: true });
      return 'answered';
    }
    const t = text.trim().replace(/^!/, '');
    let action: string | null = null;
    if (rec.kind === 'permission') {
      if (/^(allow|yes|y|1)$/i.test(t)) action = 'a';
      else if (/^(deny|no|n|2)$/i.test(t)) action = 'd';
      else return 'not-a-choice-answer'; // a new message, queued behind the waiting turn
    } else {
      const q = rec.question!.questions[rec.step];
      const nums = /^\d+(\s*,\s*\d+)*$/.test(t) ? t.split(',').map((n) => Number(n.trim()) - 1) : null;
      if (nums && nums.every((n) => n >= 0 && n < q.options.length)) {
        if (q.multiSelect) {
          rec.toggled = nums;
          action = 's';
        } else if (nums.length === 1) action = String(nums[0]);
      }
      if (action === null) action = `text:${t}`;
    }
    if (!(await claim())) return 'duplicate';
    await this.serial(token, async () => {
      const fresh = await this.deps.store.get<ChoiceRecord>(keys.choice(token));
      if (!fresh) return;
      if (rec.kind === 'question') fresh.toggled = rec.toggled;
      const notice = await this.act(outlet, fresh, sender, action!);
      if (notice && fresh.state !== 'answered') await outlet.send(fresh.conversation, { text: notice, plain: true });
    });
    return 'answered';
  }

  /** The loop said the choice was resolved (maybe by another client). */
  async resolved(outlet: Outlet, loopId: string, choiceId: string): Promise<void> {
    await this.finish(outlet, loopId, choiceId, 'answered', '☑️ Answered elsewhere.');
  }

  /** A tool_result for a tool whose choice is still pending: the server timed it out. */
  async toolFinished(outlet: Outlet, loopId: string, toolUseId: string): Promise<void> {
    await this.finish(outlet, loopId, `choice_${toolUseId}`, 'expired', '⌛ Timed out: the loop went on without an answer.');
  }

  /** The turn ended: whatever is still pending can no longer be answered. */
  async turnEnded(outlet: Outlet, loopId: string): Promise<void> {
    for (const token of (await this.deps.store.get<string[]>(keys.openChoices(loopId))) ?? []) {
      const rec = await this.deps.store.get<ChoiceRecord>(keys.choice(token));
      if (rec?.state === 'pending') await this.finish(outlet, loopId, rec.choiceId, 'expired', '⌛ Expired: the turn ended before an answer.');
    }
  }

  private async finish(outlet: Outlet, loopId: string, choiceId: string, state: 'answered' | 'expired', outcome: string): Promise<void> {
    const token = await this.deps.store.get<string>(keys.choiceIndex(loopId, choiceId));
    if (!token || this.answering.has(token)) return;
    await this.serial(token, async () => {
      const rec = await this.deps.store.get<ChoiceRecord>(keys.choice(token));
      if (!rec || rec.state !== 'pending') return;
      await this.close(outlet, rec, state, outcome);
    });
  }

  private async act(outlet: Outlet, rec: ChoiceRecord, sender: Sender, action: string): Promise<string | undefined> {
    if (rec.state === 'answered') return `Already answered: ${rec.outcome ?? ''}`.trim();
    if (rec.state === 'expired') return 'This request has expired.';
    if (!this.allowed(rec, sender)) {
      return `Only ${rec.ownerName ?? 'the person who asked'} or an admin can answer this.`;
    }
    const who = sender.displayName ?? sender.id;
    if (rec.kind === 'permission') {
      if (action !== 'a' && action !== 'd') return 'Unknown button.';
      const allow = action === 'a';
      return this.submit(outlet, rec, { allow }, allow ? `✅ Allowed by ${who}` : `🚫 Denied by ${who}`);
    }
    const questions = rec.question!.questions;
    const q = questions[rec.step];
    if (action.startsWith('text:')) {
      rec.answers[q.question] = action.slice(5);
    } else if (action === 's') {
      rec.answers[q.question] = rec.toggled
        .sort((a, b) => a - b)
        .map((i) => q.options[i]?.label)
        .filter(Boolean)
        .join(', ');
    } else if (/^\d+$/.test(action) && Number(action) < q.options.length) {
      const i = Number(action);
      if (q.multiSelect) {
        rec.toggled = rec.toggled.includes(i) ? rec.toggled.filter((x) => x !== i) : [...rec.toggled, i];
        await this.save(outlet, rec);
        return `${rec.toggled.includes(i) ? 'Selected' : 'Unselected'}: ${q.options[i].label}`;
      }
      rec.answers[q.question] = q.options[i].label;
    } else {
      return 'Unknown button.';
    }
    rec.step++;
    rec.toggled = [];
    if (rec.step < questions.length) {
      await this.save(outlet, rec);
      return 'Noted.';
    }
    const summary = questions.map((qq) => `${qq.header ?? qq.question}: ${rec.answers[qq.question] ?? '—'}`).join('; ');
    return this.submit(outlet, rec, { answers: rec.answers }, `✅ Answered by ${who} — ${summary}`);
  }

  private async submit(outlet: Outlet, rec: ChoiceRecord, answer: { allow: boolean } | { answers: Record<string, string> }, outcome: string): Promise<string> {
    this.answering.add(rec.token);
    try {
      const answerWith = (client: LoopClient) => client.answerChoice(rec.loopId, rec.choiceId, answer);
      await (this.deps.withClient ? this.deps.withClient(rec.convKey, answerWith) : answerWith(this.deps.client));
    } catch (err) {
      if (err instanceof UserTokenError) return `The loop here runs with ${err.user}'s loop token, which is ${err.code === 'token_missing' ? 'not linked' : 'refused by the loop server'}; it must be linked again (/link in a direct chat) first.`;
      if (err instanceof LoopNotFoundError) {
        await this.close(outlet, rec, 'expired', '⌛ This request is no longer pending (it timed out or was answered elsewhere).');
        return 'This request has expired.';
      }
      this.deps.log.warn({ err: String(err), loopId: rec.loopId }, 'answering a choice failed');
      return 'Could not reach the loop server; please press again in a moment.';
    } finally {
      this.answering.delete(rec.token);
    }
    await this.close(outlet, rec, 'answered', outcome);
    return outcome;
  }

  private async close(outlet: Outlet, rec: ChoiceRecord, state: 'answered' | 'expired', outcome: string): Promise<void> {
    rec.state = state;
    rec.outcome = outcome;
    await this.save(outlet, rec);
    if ((await this.deps.store.get<string>(keys.pendingChoice(rec.convKey))) === rec.token) {
      await this.deps.store.delete(keys.pendingChoice(rec.convKey));
    }
    const open = ((await this.deps.store.get<string[]>(keys.openChoices(rec.loopId))) ?? []).filter((t) => t !== rec.token);
    if (open.length) await this.deps.store.set(keys.openChoices(rec.loopId), open);
    else await this.deps.store.delete(keys.openChoices(rec.loopId));
  }

  private async save(outlet: Outlet, rec: ChoiceRecord): Promise<void> {
    if (rec.state === 'pending') await this.deps.store.set(keys.choice(rec.token), rec);
    else {
      // A finished choice is kept only so that a late press can say how it ended: without its payload,
      // and for a while; then it is pruned (the store holds live state, not history).
      const ttl = { ttlMs: FINISHED_CHOICE_TTL_MS };
      const { question: _q, permission: _p, ...rest } = rec;
      await this.deps.store.set(keys.choice(rec.token), { ...rest, answers: {}, toggled: [] } satisfies ChoiceRecord, ttl);
      await this.deps.store.set(keys.choiceIndex(rec.loopId, rec.choiceId), rec.token, ttl);
    }
    if (rec.message) {
      await outlet.edit(rec.message, this.render(rec, outlet)).catch((err) => this.deps.log.warn({ err: String(err) }, 'updating a choice message failed'));
    }
  }

  private allowed(rec: ChoiceRecord, sender: Sender): boolean {
    const q = qualifiedUserId(rec.conversation.platform, sender.id);
    return rec.owners.includes(q) || this.deps.isAdmin(q);
  }

  private render(rec: ChoiceRecord, outlet: Outlet): OutboundMessage {
    const mode = outlet.adapter.capabilities.buttons;
    const lines: string[] = [];
    let buttons: Button[][] | undefined;
    if (rec.kind === 'permission') {
      const p = rec.permission!;
      lines.push(`🔐 **Permission requested:** ${p.display_name ?? p.tool}`);
      if (p.summary) lines.push('```\n' + p.summary + '\n```');
      if (p.title && !p.title.endsWith(p.tool)) lines.push(p.title);
      if (p.reason) lines.push(p.reason);
      if (rec.state === 'pending') {
        if (mode === 'text') lines.push('Reply **allow** or **deny**.');
        else if (mode === 'reactions') lines.push('React ✅ to allow or ❌ to deny (or send `!allow` / `!deny`).');
        if (mode !== 'text') {
          const keyed = mode === 'reactions';
          buttons = [[{ label: '✅ Allow', token: `${rec.token}.a`, ...(keyed ? { key: '✅' } : {}) }, { label: '🚫 Deny', token: `${rec.token}.d`, ...(keyed ? { key: '❌' } : {}) }]];
        }
      }
    } else {
      const questions = rec.question!.questions;
      const step = Math.min(rec.step, questions.length - 1);
      const q = questions[step];
      if (rec.state === 'pending') {
        lines.push(...questionLines(q, step, questions.length, rec.toggled));
        if (mode === 'text') {
          lines.push(q.multiSelect ? 'Reply with the numbers of your picks, e.g. `1,3`, or type your own answer.' : 'Reply with a number, or type your own answer.');
        } else if (mode === 'reactions') {
          // Reactions can only stand for the first ten options; the rest are answered by number.
          buttons = q.options.map((o, i) => [{ label: o.label.slice(0, 60), token: `${rec.token}.${i}`, ...(NUMBER_KEYS[i] ? { key: NUMBER_KEYS[i] } : {}) }]);
          if (q.multiSelect) buttons.push([{ label: 'Submit', token: `${rec.token}.s`, key: '✅' }]);
          lines.push(
            q.multiSelect
              ? 'React with the numbers of your picks, then ✅ to submit (or send `!1,3`). Or reply to this message with your own answer.'
              : 'React with a number (or send `!1`). Or reply to this message with your own answer.',
          );
        } else {
          buttons = q.options.map((o, i) => [{ label: `${q.multiSelect ? (rec.toggled.includes(i) ? '☑ ' : '☐ ') : ''}${o.label}`.slice(0, 60), token: `${rec.token}.${i}` }]);
          if (q.multiSelect) buttons.push([{ label: 'Submit', token: `${rec.token}.s` }]);
          lines.push('_Or reply to this message with your own answer._');
        }
      } else {
        lines.push(`❓ ${questions.map((qq) => qq.question).join(' / ')}`);
      }
    }
    if (rec.state !== 'pending' && rec.outcome) lines.push(rec.outcome);
    return { text: lines.join('\n\n'), buttons };
  }

  private serial<T>(token: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(token) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(token, tail);
    void tail.then(() => {
      if (this.locks.get(token) === tail) this.locks.delete(token);
    });
    return next;
  }
}

/** Reactions for options 1–10 (reaction mode). */
const NUMBER_KEYS = ['1️⃣', '2️⃣', '3️⃣', '4️⃣', '5️⃣', '6️⃣', '7️⃣', '8️⃣', '9️⃣', '🔟'];

/** A typed answer meant as a command: `!allow`, `!deny`, `!2`, `!1,3`. */
const EXPLICIT_ANSWER = /^!\s*(allow|deny|\d+(\s*,\s*\d+)*)$/i;

function questionLines(q: Question, step: number, total: number, toggled: number[]): string[] {
  const head = `❓ **${q.header ?? 'Question'}**${total > 1 ? ` (${step + 1}/${total})` : ''}`;
  const opts = q.options.map((o, i) => `${i + 1}. ${q.multiSelect ? (toggled.includes(i) ? '☑ ' : '☐ ') : ''}**${o.label}**${o.description ? ` — ${o.description}` : ''}`);
  return [head, q.question, opts.join('\n')];
}
