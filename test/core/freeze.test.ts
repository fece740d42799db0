// A failed reply must not freeze its conversation, and shutdown must end whatever the platform does.

import { describe, expect, it } from 'vitest';
import { PlatformError } from '../../src/core/adapter-types.js';
import { keys, type TurnRecord } from '../../src/core/state.js';
import { dm, finalReply, harnessSuite, message, messageMatching, person, texts, waitFor } from './fixtures.js';

const suite = harnessSuite();
const harness = suite.harness;
const u1 = person('u1');
const conv = dm('u1');

describe('a failed reply does not freeze the conversation', () => {
  it('three transient send failures during a streamed turn: the reply still converges, the turn ends, the next message is answered', async () => {
    const h = await harness();
    h.adapter.failNext('send', new PlatformError('Bad Gateway', 502, false), 3);
    await h.adapter.inject(message(conv, u1, 'slow 3'));
    const reply = await waitFor(() => {
      const m = messageMatching(h.adapter, 'u1', /tick 1\/3/);
      return m?.finalized && m.text.includes('tick 3/3') ? m : undefined;
    }, 'the reply to converge', 20_000);
    expect(reply.text).toBe('tick 1/3\ntick 2/3\ntick 3/3');
    await waitFor(() => h.bridge.sessions.running.size === 0, 'the turn to end');
    await h.adapter.inject(message(conv, u1, 'next one'));
    await finalReply(h, 'u1', /Echo:\*\* next one/);
  });

  it('a permanent platform refusal of the reply ends the turn with a notice, and the next message is answered', async () => {
    const h = await harness();
    h.adapter.failNext('send', new PlatformError('Bad Request: TOPIC_CLOSED', 400, true));
    await h.adapter.inject(message(conv, u1, 'slow 2'));
    const notice = await waitFor(() => texts(h.adapter, 'u1').find((t) => t.includes('could not be delivered')), 'the notice');
    expect(notice).toContain('TOPIC_CLOSED');
    expect(notice).not.toMatch(/loop server is unreachable/);
    await waitFor(() => h.bridge.sessions.running.size === 0, 'the turn to end');
    expect(await h.bridge.backlog()).toBe(0);
    expect(h.bridge.metrics.get('replies_undelivered_total', { platform: 'test' })).toBe(1);
    await h.adapter.inject(message(conv, u1, 'after the refusal'));
    await finalReply(h, 'u1', /Echo:\*\* after the refusal/);
  });

  it('a final reply the platform keeps failing (an outage past deliveryTimeoutMs) ends its turn; the conversation moves on', async () => {
    const h = await harness({ bridge: { deliveryTimeoutMs: 300, deliveryRetryMs: 20 } });
    h.adapter.failNext('send', new PlatformError('Service Unavailable', 503, false), 1000);
    await h.adapter.inject(message(conv, u1, 'into the outage'));
    await h.adapter.inject(message(conv, u1, 'behind it'));
    await waitFor(() => h.bridge.metrics.get('replies_undelivered_total', { platform: 'test' }) >= 1, 'the first turn to give up', 20_000);
    h.adapter.clearFaults(); // the platform is back
    await finalReply(h, 'u1', /Echo:\*\* behind it/);
    expect(await h.bridge.backlog()).toBe(0);
  });
});

describe('shutdown is bounded', () => {
  it('bridge.stop() returns while a platform send hangs forever; the turn stays recorded for the next start', async () => {
    const h = await harness({ bridge: { shutdownGraceMs: 300 } });
    h.adapter.hang('send');
    await h.adapter.inject(message(conv, u1, 'a quick one'));
    // The loop's turn is over and only the reply's delivery (hung) is left.
    await waitFor(async () => (await h.store.get<TurnRecord>(keys.turn('test:u1')))?.phase === 'final', 'the turn to reach its end');
    await h.bridge.stop();
    expect(await h.bridge.backlog()).toBe(1);
  });

  it('bridge.stop() returns while a command\'s answer hangs in intake', async () => {
    const h = await harness({ bridge: { shutdownGraceMs: 300 } });
    h.adapter.hang('send');
    void h.adapter.inject(message(conv, u1, '/help'));
    await waitFor(() => h.adapter.calls.some((c) => c.method === 'send'), 'the hung answer');
    await h.bridge.stop();
  });
});
