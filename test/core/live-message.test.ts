import { afterEach, describe, expect, it } from 'vitest';
import { PlatformError, PlatformRateLimitError, type MessageRef, type OutboundMessage } from '../../src/core/adapter-types.js';
import { LiveMessage, LiveMessageAbortedError, type DeliveredChunk } from '../../src/core/live-message.js';
import { RateScheduler, TaskCancelledError } from '../../src/core/rate-scheduler.js';
import { RecordingAdapter, type RecordingOptions } from '../helpers/recording-adapter.js';
import { dm, settle, waitFor } from './fixtures.js';

const conv = dm('c1');
const open: RateScheduler[] = [];

/** A RecordingAdapter that also remembers what `finalized` was told, per message. */
class FinalizingAdapter extends RecordingAdapter {
  readonly finals: Array<{ id: string; text: string }> = [];
  override async finalized(ref: MessageRef, message?: OutboundMessage): Promise<void> {
    this.finals.push({ id: ref.messageId, text: message?.text ?? '(none)' });
    await super.finalized(ref);
  }
}

function setup(o: { editIntervalMs?: number; adapter?: RecordingOptions; delivered?: DeliveredChunk[]; draftId?: number; deliveryTimeoutMs?: number; onDelivered?: () => Promise<void> } = {}) {
  const adapter = new FinalizingAdapter(o.adapter);
  const scheduler = new RateScheduler(adapter.capabilities.rate, { retryBaseMs: 5 });
  open.push(scheduler);
  const ac = new AbortController();
  const delivered: DeliveredChunk[][] = [];
  const live = new LiveMessage(
    {
      adapter,
      scheduler,
      conversation: conv,
      target: { chatKey: 'test:c1', isGroup: false },
      editIntervalMs: o.editIntervalMs ?? 40,
      signal: ac.signal,
      onDelivered: async (c) => {
        delivered.push(c);
        await o.onDelivered?.();
      },
      draftId: o.draftId,
      deliveryTimeoutMs: o.deliveryTimeoutMs,
      deliveryRetryMs: 10,
    },
    o.delivered,
  );
  return { adapter, scheduler, live, ac, delivered };
}

const msgs = (...t: string[]): OutboundMessage[] => t.map((text) => ({ text }));

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe('LiveMessage', () => {
  it('coalesces many rapid updates into far fewer edits and converges to the exact final text', async () => {
    const { adapter, live } = setup({ adapter: { latencyMs: 2 } });
    const t0 = Date.now();
    let text = '';
    for (let i = 0; i < 100; i++) {
      text += `w${i} `;
      live.update(msgs(text));
      if (i % 10 === 0) await settle(5);
    }
    const final = text + 'the end.';
    await live.finish(msgs(final));
    const sent = adapter.calls.filter((c) => c.method === 'send');
    const edits = adapter.calls.filter((c) => c.method === 'edit');
    expect(sent).toHaveLength(1);
    // At most one intermediate edit per pace (40 ms) of however long this took, plus the final.
    expect(edits.length).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 40) + 2);
    expect(edits.length).toBeLessThan(50);
    const [m] = adapter.chat('c1');
    expect(m.text).toBe(final);
    expect(m.finalized).toBe(true);
    expect(adapter.finals).toEqual([{ id: m.id, text: final }]);
  });

  it('sends the first chunk without waiting for the edit pace', async () => {
    // A pace far longer than the test's wait: only a send that ignores the pace can show up.
    const { adapter, live } = setup({ editIntervalMs: 60_000 });
    live.update(msgs('hello'));
    await waitFor(() => adapter.chat('c1').length === 1, 'first chunk');
    live.update(msgs('hello world'));
    await settle(100);
    expect(adapter.chat('c1')[0].text).toBe('hello'); // the edit waits for the pace…
    await live.finish(msgs('hello world!'));
    expect(adapter.chat('c1')[0].text).toBe('hello world!'); // …the final does not
  });

  it('rolls over to new chunks and calls finalized once per chunk with its final text', async () => {
    const { adapter, live, delivered } = setup();
    live.update(msgs('part one'));
    live.update(msgs('part one, longer', 'part two'));
    live.update(msgs('part one, longer', 'part two', 'part three'));
    await live.finish(msgs('part one, final', 'part two, final', 'part three, final'));
    const chat = adapter.chat('c1');
    expect(chat.map((m) => m.text)).toEqual(['part one, final', 'part two, final', 'part three, final']);
    expect(chat.every((m) => m.finalized)).toBe(true);
    // Once per chunk (in whatever order they converged), each with that chunk's final text.
    expect(adapter.finals).toHaveLength(3);
    expect(Object.fromEntries(adapter.finals.map((f) => [f.id, f.text]))).toEqual(Object.fromEntries(chat.map((m) => [m.id, m.text])));
    // The delivered list is reported for persistence and matches what is on the platform.
    const last = delivered[delivered.length - 1];
    expect(last.map((d) => d.ref.messageId)).toEqual(chat.map((m) => m.id));
    expect(last.every((d) => d.finalized)).toBe(true);
    expect(live.chunks()).toEqual(last);
  });

  it('finalizes with the final content even when finish() lands while a send is in flight', async () => {
    // Bug guarded: the step that was sending the intermediate text used to mark the chunk finalized
    // (telling the adapter the *old* text was final) and never told it about the real final text.
    const { adapter, live } = setup({ adapter: { latencyMs: 50 } });
    live.update(msgs('draft'));
    await waitFor(() => adapter.calls.some((c) => c.method === 'send'), 'send started');
    await live.finish(msgs('draft, then the final answer'));
    expect(adapter.chat('c1')[0].text).toBe('draft, then the final answer');
    expect(adapter.finals.map((f) => f.text)).toEqual(['draft, then the final answer']);
  });

  it('a shutdown while the last step is in flight rejects a pending finish() instead of hanging it', async () => {
    // Bug guarded: finish() waited forever when the signal aborted during the final send, so the worker and
    // with it Bridge.stop() never returned.
    const { adapter, live, ac } = setup({ adapter: { latencyMs: 50 } });
    live.update(msgs('almost'));
    await waitFor(() => adapter.calls.some((c) => c.method === 'send'), 'send started');
    const done = live.finish(msgs('almost done'));
    ac.abort();
    await expect(done).rejects.toThrow(/shut down/);
  });

  it('with a per-minute cap on edits, posts early only while a slot for the final edit can be reserved', async () => {
    const capped = { capabilities: { rate: { globalPerSecond: 1000, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0, perMinute: { edit: 2 } } } };
    const a = setup({ adapter: capped });
    const b = setup({ adapter: capped });
    // Both share one scheduler, as live replies of one bot do.
    const shared = a.scheduler;
    const liveB = new LiveMessage({ adapter: b.adapter, scheduler: shared, conversation: conv, target: { chatKey: 'test:c2', isGroup: false }, editIntervalMs: 40, signal: b.ac.signal });
    a.live.update(msgs('first reply, partial'));
    liveB.update(msgs('second reply, partial'));
    await waitFor(() => a.adapter.calls.some((c) => c.method === 'send'), 'first reply posted early');
    // One slot (of 2) is reservable and the first reply holds it until it is final: the second cannot post yet.
    expect(b.adapter.calls.filter((c) => c.method === 'send')).toHaveLength(0);
    await liveB.finish(msgs('second reply, final'));
    expect(b.adapter.calls.map((c) => c.method)).toEqual(['send']); // posted once, already final: no edit owed
    await a.live.finish(msgs('first reply, final'));
    expect(a.adapter.chat('c1')[0].text).toBe('first reply, final');
    // The slot is free again: a new reply may post early.
    const liveC = new LiveMessage({ adapter: b.adapter, scheduler: shared, conversation: conv, target: { chatKey: 'test:c3', isGroup: false }, editIntervalMs: 40, signal: b.ac.signal });
    liveC.update(msgs('third, partial'));
    await waitFor(() => b.adapter.calls.filter((c) => c.method === 'send').length === 2, 'third posted early');
    await liveC.finish(msgs('third, final'));
  });

  it('re-sends a chunk the user deleted instead of losing it', async () => {
    const { adapter, live } = setup();
    live.update(msgs('first version'));
    await waitFor(() => adapter.chat('c1').length === 1, 'sent');
    const original = adapter.chat('c1')[0].id;
    adapter.userDeletes(original);
    await live.finish(msgs('first version, finished'));
    const chat = adapter.chat('c1');
    expect(chat).toHaveLength(1);
    expect(chat[0].id).not.toBe(original);
    expect(chat[0].text).toBe('first version, finished');
    expect(chat[0].finalized).toBe(true);
    expect(live.chunks()[0].ref.messageId).toBe(chat[0].id);
  });

  it('is delayed by a 429 mid-stream but still converges', async () => {
    const { adapter, live, scheduler } = setup({ editIntervalMs: 5 });
    live.update(msgs('one'));
    await waitFor(() => adapter.chat('c1').length === 1, 'sent');
    adapter.failNext('edit', new PlatformRateLimitError(150), 2);
    live.update(msgs('one two'));
    await waitFor(() => scheduler.stats.rateLimited >= 1, 'a 429');
    live.update(msgs('one two three'));
    await live.finish(msgs('one two three four'));
    expect(adapter.chat('c1')[0].text).toBe('one two three four');
    expect(adapter.chat('c1')[0].finalized).toBe(true);
    expect(scheduler.stats.rateLimited).toBe(2);
  });

  it('resumes from chunks delivered before a restart (edits them, sends nothing twice)', async () => {
    const first = setup();
    first.live.update(msgs('before restart'));
    await waitFor(() => first.adapter.chat('c1').length === 1, 'sent');
    const chunks = first.live.chunks();
    first.live.abandon();
    // Same platform, new process: a LiveMessage built from the persisted chunks.
    const scheduler = new RateScheduler(first.adapter.capabilities.rate);
    open.push(scheduler);
    const live = new LiveMessage(
      { adapter: first.adapter, scheduler, conversation: conv, target: { chatKey: 'test:c1', isGroup: false }, editIntervalMs: 10, signal: new AbortController().signal },
      chunks,
    );
    await live.finish(msgs('before restart, and after'));
    expect(first.adapter.chat('c1').map((m) => m.text)).toEqual(['before restart, and after']);
    expect(first.adapter.calls.filter((c) => c.method === 'send')).toHaveLength(1);
  });

  it('finish() with nothing to show resolves without platform calls', async () => {
    const { adapter, live } = setup();
    live.update(msgs('   '));
    await live.finish([]);
    expect(adapter.calls).toHaveLength(0);
  });

  it('abandon() rejects a pending finish and stops all further platform calls', async () => {
    const { adapter, live } = setup({ adapter: { latencyMs: 30 } });
    live.update(msgs('a'));
    await waitFor(() => adapter.calls.length === 1, 'send started');
    const done = live.finish(msgs('a b'));
    live.abandon();
    await expect(done).rejects.toBeInstanceOf(TaskCancelledError);
    const before = adapter.calls.length;
    live.update(msgs('a b c'));
    await settle(200);
    // The send already in flight may land; nothing after abandon() may start.
    expect(adapter.calls.length).toBe(before);
  });

  it('a permanent failure of the first send rejects finish()', async () => {
    const { adapter, live } = setup();
    adapter.failNext('send', new PlatformError('forbidden: bot was blocked', 403, true));
    await expect(live.finish(msgs('hello'))).rejects.toThrow(/forbidden/);
  });

  it('finish() after the reply already failed settles (it used to wait forever)', async () => {
    const { adapter, live } = setup();
    adapter.failNext('send', new PlatformError('Forbidden: bot was blocked by the user', 403, true));
    live.update(msgs('hello'));
    await waitFor(() => adapter.calls.length === 1, 'the failed send');
    await settle(20);
    await expect(live.finish(msgs('hello, world'))).rejects.toThrow(/blocked/);
  });

  it('a finish() waiting when the reply fails settles', async () => {
    const { adapter, live } = setup({ adapter: { latencyMs: 20 } });
    adapter.failNext('send', new PlatformError('Bad Request: TOPIC_CLOSED', 400, true));
    await expect(live.finish(msgs('into a closed topic'))).rejects.toThrow(/TOPIC_CLOSED/);
  });

  it('a transient outage longer than the scheduler\'s retries: the final still arrives once the platform is back', async () => {
    const { adapter, live } = setup();
    adapter.failNext('send', new PlatformError('Bad Gateway', 502, false), 5);
    live.update(msgs('tick 1'));
    await live.finish(msgs('tick 1\ntick 2'));
    expect(adapter.chat('c1').map((m) => m.text)).toEqual(['tick 1\ntick 2']);
    expect(adapter.calls.filter((c) => c.method === 'send')).toHaveLength(6);
  });

  it('a final that keeps failing transiently gives up after deliveryTimeoutMs instead of waiting forever', async () => {
    const { adapter, live } = setup({ deliveryTimeoutMs: 200 });
    adapter.failNext('send', new PlatformError('Bad Gateway', 502, false), 10_000);
    await expect(live.finish(msgs('never delivered'))).rejects.toThrow(/Bad Gateway/);
  });

  it('shutdown settles a finish() whose platform call hangs', async () => {
    const { adapter, live, ac } = setup();
    adapter.hang('send');
    const done = live.finish(msgs('stuck'));
    await waitFor(() => adapter.calls.length === 1, 'the hung send');
    ac.abort();
    await expect(done).rejects.toBeInstanceOf(LiveMessageAbortedError);
    await expect(live.finish(msgs('again'))).rejects.toBeInstanceOf(LiveMessageAbortedError);
  });

  it('the scheduler closing under a waiting finish() settles it', async () => {
    const { scheduler, live, adapter } = setup({ adapter: { capabilities: { rate: { globalPerSecond: 1000, privateChatIntervalMs: 60_000, groupChatIntervalMs: 0, groupPerMinute: 0 } } } });
    live.update(msgs('first'));
    await waitFor(() => adapter.chat('c1').length === 1, 'the first send');
    const done = live.finish(msgs('first, then final')); // waits 60 s for the chat's interval
    scheduler.close();
    await expect(done).rejects.toBeInstanceOf(TaskCancelledError);
  });

  it('draft mode: the tail streams as a draft preview, full chunks and the final become real messages, no edits', async () => {
    const { adapter, live } = setup({ draftId: 77, adapter: { capabilities: { drafts: true } } });
    live.update(msgs('first part'));
    await waitFor(() => adapter.drafts.length === 1);
    live.update(msgs('first part grows'));
    await waitFor(() => adapter.drafts.some((d) => d.text === 'first part grows'));
    live.update(msgs('chunk one is full', 'second chunk'));
    await waitFor(() => adapter.chat('c1').length === 1);
    await live.finish(msgs('chunk one is full', 'second chunk, final'));
    expect(adapter.chat('c1').map((m) => m.text)).toEqual(['chunk one is full', 'second chunk, final']);
    expect(adapter.calls.filter((c) => c.method === 'edit')).toEqual([]);
    expect(new Set(adapter.drafts.map((d) => d.draftId))).toEqual(new Set([77]));
    expect(adapter.drafts.every((d) => d.text !== 'chunk one is full')).toBe(true); // a full chunk is never a draft
  });

  it('renders lazily: content given as a function is rendered only when a platform call is about to happen', async () => {
    const { adapter, live } = setup({ editIntervalMs: 200 });
    let text = '';
    let renders = 0;
    const source = () => {
      renders++;
      return msgs(text);
    };
    for (let i = 0; i < 60; i++) {
      text += `w${i} `;
      live.update(source);
      await settle(5);
    }
    await live.finish(msgs(text.trim()));
    const calls = adapter.calls.filter((c) => c.method === 'send' || c.method === 'edit').length;
    expect(adapter.chat('c1')[0].text).toBe(text.trim());
    expect(renders).toBeLessThanOrEqual(calls + 1); // not once per update (60)
    expect(renders).toBeGreaterThanOrEqual(1); // the first text showed at once
  });

  it('shutdown while the final content is being recorded: finish() resolves, it does not wait forever', async () => {
    let release!: () => void;
    const recording = new Promise<void>((r) => (release = r));
    let hold = false;
    const { adapter, live, ac } = setup({ onDelivered: () => (hold ? recording : Promise.resolve()) });
    hold = true;
    const done = live.finish(msgs('all of it'));
    await waitFor(() => adapter.chat('c1')[0]?.text === 'all of it', 'the final text shown');
    ac.abort(); // SIGTERM lands while the delivered refs are being persisted
    // Settled by the shutdown itself, whether or not the recording ever completes.
    await expect(done).resolves.toBeUndefined();
    release();
  });

  it('after shutdown, a finish() already shown resolves with no call, one not shown rejects (no finalized hook)', async () => {
    // Without the hook, showing the final text is all a final delivery does (with it, the platform must be told).
    const adapter = new RecordingAdapter();
    Object.assign(adapter, { finalized: undefined });
    const scheduler = new RateScheduler(adapter.capabilities.rate, { retryBaseMs: 5 });
    open.push(scheduler);
    const ac = new AbortController();
    const make = () => new LiveMessage({ adapter, scheduler, conversation: conv, target: { chatKey: 'test:c1', isGroup: false }, editIntervalMs: 40, signal: ac.signal });
    const shown = make();
    shown.update(msgs('the whole answer'));
    await waitFor(() => adapter.chat('c1')[0]?.text === 'the whole answer', 'the text shown');
    ac.abort();
    const calls = adapter.calls.length;
    await expect(shown.finish(msgs('the whole answer'))).resolves.toBeUndefined();
    await expect(make().finish(msgs('never shown'))).rejects.toBeInstanceOf(LiveMessageAbortedError);
    expect(adapter.calls.length).toBe(calls);
  });
});
