// A send that failed without a known outcome (a 5xx after the platform may have posted) is retried with the
// very same message object, so an adapter whose sends are idempotent per message (Matrix transaction ids)
// returns the first post instead of making a second; newer content then follows as an edit. A refusal or
// a 429 did not post, so its retry may carry the newest content.
import { expect, it } from 'vitest';
import { PlatformError, PlatformRateLimitError, type ChatAdapter, type OutboundMessage } from '../../src/core/adapter-types.js';
import { LiveMessage } from '../../src/core/live-message.js';
import { RateScheduler } from '../../src/core/rate-scheduler.js';
import { waitFor } from './fixtures.js';

/** Fails the first send; `during` runs inside it (newer content arriving while the send is in flight). */
function adapterFailingFirstSend(failure: Error, during: () => void) {
  const sent: OutboundMessage[] = [];
  const edits: string[] = [];
  let failed = false;
  const adapter = {
    platform: 't',
    capabilities: { edit: true, maxTextLength: 1000, measure: (m: string) => m.length, buttons: 'native', threads: false, drafts: false, editIntervalMs: { direct: 0, group: 0 }, rate: { globalPerSecond: 1000, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0 } },
    async start() {
      return { id: 'bot' };
    },
    async stop() {},
    async send(_c: unknown, m: OutboundMessage) {
      sent.push(m);
      if (!failed) {
        failed = true;
        during();
        throw failure;
      }
      return { conversation: conv, messageId: '1' };
    },
    async edit(_r: unknown, m: OutboundMessage) {
      edits.push(m.text);
    },
    async delete() {},
  } as unknown as ChatAdapter;
  return { adapter, sent, edits };
}

const conv = { platform: 't', chatId: 'c', isDirect: true };

it.each([
  ['a transient failure: the retry is the same message, then an edit', new PlatformError('502', 502, false), true],
  ['a rate limit: nothing was posted, the retry carries the newest text', new PlatformRateLimitError(5), false],
])('%s', async (_name, failure, same) => {
  let text = 'first';
  const { adapter, sent, edits } = adapterFailingFirstSend(failure, () => {
    text = 'first and more';
    live.update(() => [{ text }]);
  });
  const scheduler = new RateScheduler(adapter.capabilities.rate, { retryBaseMs: 5 });
  const live = new LiveMessage({ adapter, scheduler, conversation: conv, target: { chatKey: 't:c', isGroup: false }, editIntervalMs: 0, signal: new AbortController().signal }, []);
  live.update(() => [{ text }]);
  await waitFor(() => (sent.length >= 2 ? true : undefined));
  await live.finish([{ text: 'first and more, final' }]);
  expect(sent.length).toBe(2);
  expect(sent[1] === sent[0]).toBe(same);
  expect(sent[1].text).toBe(same ? 'first' : 'first and more');
  if (same) expect(edits.at(-1)).toBe('first and more, final');
  scheduler.close();
});
