// Errors are classified, and nothing accepted is lost: our own credentials refused is an outage (messages
// kept, answered later), a platform refusal is the platform's (never "the loop server is unreachable").

import { describe, expect, it } from 'vitest';
import { PlatformError, PlatformRateLimitError } from '../../src/core/adapter-types.js';
import { classifyTurnFailure } from '../../src/core/failure-kind.js';
import { errorFromResponse, transportError } from '../../src/loop-api/errors.js';
import { startSimulator } from '../../src/sim/index.js';
import { dm, finalReply, harnessSuite, loopOf, message, person, texts, waitFor } from './fixtures.js';

const suite = harnessSuite();
const harness = suite.harness;
const u1 = person('u1');
const conv = dm('u1');
const png = Buffer.from('89504e470d0a1a0a', 'hex');

const loopError = (status: number, code: string) =>
  errorFromResponse({ status, headers: {}, body: JSON.stringify({ error: { type: 'x', code, message: code } }) });

describe('classifyTurnFailure', () => {
  it('tells our outage, the loop\'s state, the message\'s content and the platform\'s faults apart', () => {
    expect(classifyTurnFailure(loopError(401, 'missing_credentials'))).toEqual({ kind: 'loop-auth', code: 'missing_credentials' });
    expect(classifyTurnFailure(loopError(403, 'onboarding_incomplete'))).toEqual({ kind: 'loop-auth', code: 'onboarding_incomplete' });
    expect(classifyTurnFailure(errorFromResponse({ status: 403, headers: {}, body: '<html>denied by proxy</html>' })).kind).toBe('loop-auth');
    expect(classifyTurnFailure(loopError(403, 'not_loop_owner'))).toEqual({ kind: 'loop-blocked', reason: 'not_loop_owner' });
    expect(classifyTurnFailure(loopError(400, 'loop_archived'))).toEqual({ kind: 'loop-blocked', reason: 'loop_archived' });
    expect(classifyTurnFailure(loopError(404, 'loop_not_found'))).toEqual({ kind: 'loop-blocked', reason: 'loop_not_found' });
    expect(classifyTurnFailure(loopError(400, 'content_too_large'))).toEqual({ kind: 'loop-refused', code: 'content_too_large' });
    expect(classifyTurnFailure(loopError(503, 'x')).kind).toBe('loop-unreachable');
    expect(classifyTurnFailure(errorFromResponse({ status: 429, headers: { 'retry-after': '2' }, body: '' }))).toEqual({ kind: 'loop-unreachable', retryAfterMs: 2000 });
    expect(classifyTurnFailure(transportError('network_error', 'POST', new Error('ECONNREFUSED'))).kind).toBe('loop-unreachable');
    expect(classifyTurnFailure(new PlatformError('telegram getFile: Bad Request: file is too big', 400, true))).toEqual({ kind: 'platform-permanent' });
    expect(classifyTurnFailure(new PlatformError('telegram getFile: Bad Gateway', 502, false))).toEqual({ kind: 'platform-transient' });
    expect(classifyTurnFailure(new PlatformRateLimitError(3000))).toEqual({ kind: 'platform-transient', retryAfterMs: 3000 });
    expect(classifyTurnFailure(new TypeError('x is undefined'))).toEqual({ kind: 'unknown' });
  });
});

describe('our credentials refused', () => {
  it('a revoked loop token loses no message: both are kept, people are told once, the operator sees it, and both are answered once the token works', async () => {
    const sim = await startSimulator({ deltaDelayMs: 1, idleCutMs: null });
    const h = await harness({ simulator: sim });
    try {
      await h.adapter.inject(message(conv, u1, 'before the revocation'));
      await finalReply(h, 'u1', /Echo:\*\* before the revocation/);
      const loopId = (await loopOf(h.store, conv))!;
      // The token is refused for a while (every request answers 401 missing_credentials), then works again.
      sim.faults.failNext(200, 401);
      await h.adapter.inject(message(conv, u1, 'kept one'));
      await h.adapter.inject(message(conv, u1, 'kept two'));
      await waitFor(() => h.bridge.metrics.get('loop_errors_total', { kind: 'auth' }) >= 3, 'several refused attempts');
      expect(h.bridge.loopHealth.problems()).toEqual([expect.objectContaining({ kind: 'auth', code: 'missing_credentials' })]);
      expect(h.bridge.metrics.render()).toMatch(/^loop_auth_ok 0$/m);
      expect(await h.bridge.backlog()).toBe(2);

      await tokenWorksAgain(sim);
      await finalReply(h, 'u1', /Echo:\*\* kept two/);
      expect(sim.received(loopId)).toEqual(['before the revocation', 'kept one', 'kept two']);
      const all = texts(h.adapter, 'u1');
      expect(all.filter((t) => /refusing this bridge's credentials/.test(t))).toHaveLength(1);
      expect(all.some((t) => /refused this message/.test(t))).toBe(false);
      expect(h.bridge.loopHealth.problems()).toEqual([]);
      expect(h.bridge.metrics.render()).toMatch(/^loop_auth_ok 1$/m);
    } finally {
      await h.close();
      await sim.close();
    }
  });

  it('only a 400 about the message itself drops it, saying why', async () => {
    const sim = await startSimulator({ deltaDelayMs: 1, idleCutMs: null });
    const h = await harness({ simulator: sim });
    try {
      await h.adapter.inject(message(conv, u1, 'warm up'));
      await finalReply(h, 'u1', /Echo:\*\* warm up/);
      sim.faults.failNext(1, 400, { path: /\/messages$/, body: JSON.stringify({ error: { type: 'invalid_request_error', code: 'content_too_large', message: 'content exceeds 1048576 characters' } }) });
      await h.adapter.inject(message(conv, u1, 'too big, says the server'));
      await h.adapter.inject(message(conv, u1, 'the next one'));
      await finalReply(h, 'u1', /Echo:\*\* the next one/);
      expect(texts(h.adapter, 'u1').find((t) => /refused this message/.test(t))).toMatch(/content_too_large.*content exceeds/);
    } finally {
      await h.close();
      await sim.close();
    }
  });
});

/** Ends the simulated revocation: the refusals still pending are used up by requests of our own (one each). */
async function tokenWorksAgain(sim: Awaited<ReturnType<typeof startSimulator>>): Promise<void> {
  const base = `${sim.url}/api/v1/loops`;
  for (;;) {
    const r = await fetch(base, { headers: { authorization: `Bearer ${sim.token}` } });
    await r.arrayBuffer();
    if (r.status !== 401) return;
  }
}

describe('platform faults are the platform\'s', () => {
  it('a permanent refusal to fetch a file is final for that message (one attempt), blames no loop server, and the conversation goes on', async () => {
    const h = await harness();
    await h.adapter.inject(message(conv, u1, 'look at this', { files: [{ mimeType: 'image/png', ref: 'gone', size: 8 }] }));
    const notice = await waitFor(() => texts(h.adapter, 'u1').find((t) => /could not be sent to the loop/.test(t)), 'the notice');
    expect(notice).toContain('file gone not found');
    await h.adapter.inject(message(conv, u1, 'and now text'));
    await finalReply(h, 'u1', /Echo:\*\* and now text/);
    expect(h.adapter.calls.filter((c) => c.method === 'fetchFile')).toHaveLength(1);
    expect(texts(h.adapter, 'u1').some((t) => /loop server is unreachable/.test(t))).toBe(false);
    expect(suite.sim.received((await loopOf(h.store, conv))!)).toEqual(['and now text']);
  });

  it('a transient platform failure to fetch a file keeps the message, says the platform has trouble, and sends it once it recovers', async () => {
    const h = await harness();
    h.adapter.files.set('pic', png);
    h.adapter.failNext('fetchFile', new PlatformError('telegram getFile: Bad Gateway', 502, false), 3);
    await h.adapter.inject(message(conv, u1, 'a picture', { files: [{ mimeType: 'image/png', ref: 'pic', size: 8 }] }));
    await finalReply(h, 'u1', /Echo:\*\* a picture/);
    const all = texts(h.adapter, 'u1');
    expect(all.filter((t) => /test is having trouble/.test(t))).toHaveLength(1);
    expect(all.some((t) => /loop server/.test(t))).toBe(false);
    const loopId = (await loopOf(h.store, conv))!;
    expect(suite.sim.received(loopId)).toEqual(['a picture']);
    expect(suite.sim.receivedImages(loopId)).toEqual([1]);
  });

  it('a failure nobody understands is retried a few times, then the message is skipped with a notice and the conversation goes on', async () => {
    const h = await harness();
    h.adapter.files.set('pic', png);
    h.adapter.failNext('fetchFile', new TypeError("Cannot read properties of undefined (reading 'id')"), 100);
    await h.adapter.inject(message(conv, u1, 'poison', { files: [{ mimeType: 'image/png', ref: 'pic', size: 8 }] }));
    await h.adapter.inject(message(conv, u1, 'after the poison'));
    const notice = await waitFor(() => texts(h.adapter, 'u1').find((t) => /could not be handled/.test(t)), 'the skip notice');
    expect(notice).toContain('skipped after 5 attempts');
    await finalReply(h, 'u1', /Echo:\*\* after the poison/);
    expect(h.adapter.calls.filter((c) => c.method === 'fetchFile')).toHaveLength(5);
    expect(suite.sim.received((await loopOf(h.store, conv))!)).toEqual(['after the poison']);
  });
});
