// Bounded input from the loop server (issue 13 §5), through the real core and the simulator: one event
// over ~1 MiB is skipped (and the reply says so when it was text), a turn's text is capped at
// replies.maxTextChars with a visible cut, and the turn still ends and the conversation moves on.

import { describe, expect, it } from 'vitest';
import { dm, finalReply, harnessSuite, message, person, texts, waitFor } from './fixtures.js';

const suite = harnessSuite();
const u1 = person('u1');
const MiB = 1024 * 1024;

describe('bounded input from the loop server', () => {
  it('one event larger than 1 MiB: skipped, the reply says where, the rest of the turn is shown', async () => {
    const h = await suite.harness();
    suite.sim.scriptNextTurn('*', [{ delta: 'Before the big one. ' }, { delta: 'z'.repeat(2 * MiB) }, { delta: 'After the big one.' }]);
    await h.adapter.inject(message(dm('u1'), u1, 'send something huge'));
    const reply = await finalReply(h, 'u1', /After the big one\./);
    expect(reply.text).toMatch(/^Before the big one\.\n\n⚠️ Part of this reply is missing: the loop sent a piece of text larger than 1,048,576 characters, which was skipped\.\n\nAfter the big one\.$/);
    expect(texts(h.adapter, 'u1').join('')).not.toContain('zzzz');
  });

  it('a huge tool output (sdk_message) is skipped without a word', async () => {
    const h = await suite.harness();
    suite.sim.scriptNextTurn('*', [
      { delta: 'Reading the log. ' },
      { raw: { event: 'sdk_message', data: { type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'L'.repeat(3 * MiB) }] } } } },
      { delta: 'It is long.' },
    ]);
    await h.adapter.inject(message(dm('u1'), u1, 'read the big log'));
    const reply = await finalReply(h, 'u1', /It is long\./);
    expect(reply.text).toBe('Reading the log. It is long.');
  });

  it("a turn's text past replies.maxTextChars is cut visibly, the chat gets a bounded number of messages, and the next message is answered", async () => {
    const h = await suite.harness({ replies: { maxTextChars: 50_000 } });
    // 200 deltas of 64 KiB: 12.5 MiB of text for a 50,000-character reply.
    suite.sim.scriptNextTurn('*', Array.from({ length: 200 }, (_, i) => ({ delta: `${String(i).padStart(3, '0')}${'w'.repeat(64 * 1024 - 3)}` })));
    await h.adapter.inject(message(dm('u1'), u1, 'write forever'));
    await waitFor(() => h.adapter.chat('u1').some((m) => m.finalized && /The reply is cut here/.test(m.text)), 'the cut reply to be final', 60_000);
    const shown = texts(h.adapter, 'u1');
    const all = shown.join('');
    expect(all).toContain('⚠️ The reply is cut here: it reached 50,000 characters (replies.maxTextChars).');
    expect(all.split('⚠️')[0].replace(/\s/g, '').length).toBe(50_000);
    expect(all).not.toContain('001'); // the second delta starts past the cut
    // The recording adapter's limit is 4,096 after formatting: 50,000 characters fit in about 13 messages.
    expect(shown.length).toBeLessThanOrEqual(20);
    await h.adapter.inject(message(dm('u1'), u1, 'and now?'));
    await finalReply(h, 'u1', /Echo:\*\* and now\?/);
  }, 90_000);
});
