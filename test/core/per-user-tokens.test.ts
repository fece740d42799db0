// access.loopTokens per-user against the simulator with several users: each person links their own token in
// a DM (the message is deleted, the token never echoed), their loops are created and driven with it (owned by
// them at the loop server), a group's loop belongs to whoever started it, a revoked token is reported once and
// queued messages wait, a foreign loop (not_loop_owner) parks the conversation, and the client pool closes.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PerUserTokens } from '../../src/core/loop-clients.js';
import { TokenVault } from '../../src/core/token-vault.js';
import { LoopClient } from '../../src/loop-api/client.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { PlatformError } from '../../src/core/adapter-types.js';
import { dm, finalReply, group, loopOf, message, person, say, startHarness, texts, waitFor, type Harness } from './fixtures.js';

const tok = (c: string) => `la_${c.repeat(48)}`;
const BRIDGE = tok('0');
const ANN = tok('a');
const ANN2 = tok('e');
/** Ann's token that one test revokes (the simulator is shared by the file's tests). */
const ANN_REVOKED = tok('d');
const BOB = tok('b');
const ann = person('ann', 'Ann');
const bob = person('bob', 'Bob');
const admin = person('admin', 'Admin');

let sim: Simulator;
const open: Harness[] = [];
beforeAll(async () => {
  sim = await startSimulator({ deltaDelayMs: 1, idleCutMs: null, tokens: { [BRIDGE]: 'bridge', [ANN]: 'ann', [ANN2]: 'ann', [ANN_REVOKED]: 'ann', [BOB]: 'bob' } });
});
afterAll(async () => {
  for (const h of open) await h.close();
  await sim.close();
});

async function perUserHarness(o: { idleMs?: number; store?: Store } = {}): Promise<Harness & { vault: TokenVault }> {
  const store = o.store ?? createMemoryStore();
  const vault = await TokenVault.open(store, randomBytes(32).toString('base64'));
  const perUserTokens: PerUserTokens = {
    vault,
    create: (token) => new LoopClient({ baseUrl: sim.url, token, timeoutMs: 5000, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } }),
    idleMs: o.idleMs,
  };
  const h = await startHarness({ simulator: sim, store, access: { users: ['test:ann', 'test:bob'], admins: ['test:admin'] }, bridge: { perUserTokens } });
  open.push(h);
  return Object.assign(h, { vault });
}


const ownerAtServer = (loopId: string) => sim.creation(loopId)?.createdBy;

describe('per-user loop tokens', () => {
  it('two people link their own tokens; each one\'s loops are owned by them at the loop server', async () => {
    const h = await perUserHarness();
    const annDm = dm('ann');
    const bobDm = dm('bob');
    // No token yet: told how to link, nothing sent, no loop made.
    const told = await say(h, annDm, ann, 'hello?', /🔑/);
    expect(told).toContain('/link la_');
    expect(await loopOf(h.store, annDm)).toBeUndefined();

    const link = message(annDm, ann, `/link ${ANN}`);
    await h.adapter.inject(link);
    const linked = await waitFor(() => texts(h.adapter, 'ann').find((t) => /Linked/.test(t)), 'the link answer');
    expect(linked).toContain('owner');
    // The message holding the token was deleted; the token is never echoed back.
    expect(h.adapter.calls.some((c) => c.method === 'delete' && c.messageId === link.messageId)).toBe(true);
    for (const t of texts(h.adapter, 'ann')) expect(t).not.toContain(ANN);
    expect(JSON.stringify(await h.store.list(''))).not.toContain(ANN); // encrypted at rest

    await say(h, bobDm, bob, `/link ${BOB}`, /Linked/);
    await h.adapter.inject(message(annDm, ann, 'ann here'));
    await h.adapter.inject(message(bobDm, bob, 'bob here'));
    await finalReply(h, 'ann', /Echo:\*\* ann here/);
    await finalReply(h, 'bob', /Echo:\*\* bob here/);
    expect(ownerAtServer((await loopOf(h.store, annDm))!)).toBe('ann');
    expect(ownerAtServer((await loopOf(h.store, bobDm))!)).toBe('bob');
    // The bridge's own token made nothing.
    expect(sim.creations().filter((c) => c.createdBy === 'bridge')).toEqual([]);
    expect(await say(h, annDm, ann, '/status', /^Loop:/)).toMatch(/Loop owner: Ann \(test:ann\) — it runs with their own loop token\n[\s\S]*Your loop token: linked since/);
  });

  it('a group\'s loop belongs to whoever started it: others\' messages drive it with that token, and /status says so', async () => {
    const h = await perUserHarness();
    await say(h, dm('ann'), ann, `/link ${ANN}`, /Linked/);
    const team = group('team');
    await h.adapter.inject(message(team, ann, 'ann starts', { mentionsBot: true }));
    await finalReply(h, 'team', /Echo:\*\* ann starts/);
    // Bob has no token of his own: his message goes to Ann's loop with Ann's token.
    await h.adapter.inject(message(team, bob, 'bob follows', { mentionsBot: true }));
    await finalReply(h, 'team', /Echo:\*\* bob follows/);
    const loopId = (await loopOf(h.store, team))!;
    expect(ownerAtServer(loopId)).toBe('ann');
    expect(sim.received(loopId)).toEqual(['ann starts', 'bob follows']);
    expect(await say(h, team, bob, '/status', /^Loop:/, { mentionsBot: true })).toContain('Loop owner: Ann (test:ann) — it runs with their own loop token, for everyone here');

    // In a group, /link is refused and the message still taken off the chat.
    const leaked = message(team, bob, `/link ${BOB}`, { mentionsBot: true });
    await h.adapter.inject(leaked);
    expect(await waitFor(() => texts(h.adapter, 'team').find((t) => /never be posted/.test(t)))).toContain('revoke');
    expect(h.adapter.calls.some((c) => c.method === 'delete' && c.messageId === leaked.messageId)).toBe(true);
    expect(await h.vault.linked('test:bob')).toBeUndefined();

    // Ann unlinks: the group's loop cannot be driven; Bob is told why and nothing is sent.
    await say(h, dm('ann'), ann, '/unlink', /Unlinked/);
    expect(await say(h, team, bob, 'anyone?', /🔑/, { mentionsBot: true })).toContain("runs with test:ann's Loop API token");
    expect(sim.received(loopId)).toHaveLength(2);
  });

  it('a revoked token is reported once, the queued messages wait, and go on in order after a new /link', async () => {
    const h = await perUserHarness();
    const annDm = dm('ann');
    await say(h, annDm, ann, `/link ${ANN_REVOKED}`, /Linked/);
    await h.adapter.inject(message(annDm, ann, 'before'));
    await finalReply(h, 'ann', /Echo:\*\* before/);
    const loopId = (await loopOf(h.store, annDm))!;

    sim.revokeToken(ANN_REVOKED);
    await h.adapter.inject(message(annDm, ann, 'after one'));
    await waitFor(() => texts(h.adapter, 'ann').find((t) => /refused Ann's linked loop token/.test(t)), 'the refusal notice');
    await h.adapter.inject(message(annDm, ann, 'after two'));
    await waitFor(async () => (await h.store.items(`inbox/test:ann`)).length === 2, 'both messages kept');
    expect(texts(h.adapter, 'ann').filter((t) => /refused/.test(t))).toHaveLength(1); // told once
    expect(h.bridge.health().status).toBe('ok'); // the bridge's own token is fine: not our outage
    expect(await say(h, annDm, ann, '/status', /Blocked/)).toContain('token_refused');

    // Linking a working token (same loop-server user) lets them go on, in order, on the same loop.
    await say(h, annDm, ann, `/link ${ANN2}`, /conversation waiting for your token go/);
    await finalReply(h, 'ann', /Echo:\*\* after two/);
    expect(sim.received(loopId)).toEqual(['before', 'after one', 'after two']);
  });

  it('a loop of another loop-server user (not_loop_owner) parks the conversation with a clear notice; /attach to it is refused', async () => {
    const h = await perUserHarness();
    const annDm = dm('ann');
    await say(h, annDm, ann, `/link ${ANN}`, /Linked/);
    await h.adapter.inject(message(annDm, ann, 'mine'));
    await finalReply(h, 'ann', /Echo:\*\* mine/);
    // Ann links Bob's token by mistake: her loop is not Bob's.
    await say(h, annDm, ann, `/link ${BOB}`, /Linked/);
    await h.adapter.inject(message(annDm, ann, 'kept for later'));
    expect(await waitFor(() => texts(h.adapter, 'ann').find((t) => /belongs to another user/.test(t)))).toContain('Your message is kept');
    expect(await h.store.items('inbox/test:ann')).toHaveLength(1);

    // An admin's /attach in a group whose loop Bob drives, to Ann's loop: refused by the server, said plainly.
    await say(h, dm('bob'), bob, `/link ${BOB}`, /Linked/);
    const room = group('room');
    await h.adapter.inject(message(room, bob, 'bob starts', { mentionsBot: true }));
    await finalReply(h, 'room', /Echo:\*\* bob starts/);
    const annLoop = (await loopOf(h.store, annDm))!;
    expect(await say(h, room, admin, `/attach ${annLoop}`, /attach failed/, { mentionsBot: true })).toContain('not_loop_owner');
  });

  it('clients for personal tokens are pooled and closed once unused', async () => {
    const h = await perUserHarness({ idleMs: 50 });
    await say(h, dm('ann'), ann, `/link ${ANN}`, /Linked/);
    await h.adapter.inject(message(dm('ann'), ann, 'one'));
    await h.adapter.inject(message(dm('ann'), ann, 'two'));
    await finalReply(h, 'ann', /Echo:\*\* two/);
    expect(h.bridge.clients.openClients).toBeLessThanOrEqual(1); // one token, one client
    await waitFor(() => h.bridge.clients.openClients === 0, 'the idle client to be closed');
  });

  it('/link answers every bad case plainly and links nothing; the message is taken off the chat each time', async () => {
    const h = await perUserHarness();
    const annDm = dm('ann');
    const deleted = (id: string) => h.adapter.calls.some((c) => c.method === 'delete' && c.messageId === id);
    const link = async (text: string, re: RegExp) => {
      const m = message(annDm, ann, text);
      const before = h.adapter.chat('ann').length;
      await h.adapter.inject(m);
      const answer = await waitFor(() => h.adapter.chat('ann').slice(before).find((x) => re.test(x.text))?.text, `an answer to ${text}`);
      return { answer, deleted: deleted(m.messageId) };
    };

    const malformed = await link('/link la_1234', /not a Loop API token/);
    expect(malformed).toEqual({ answer: 'That is not a Loop API token (la_ followed by 48 lowercase hex characters); nothing was linked.', deleted: true });
    // A token the loop server does not know: its 401 is named, nothing linked.
    const unknown = await link(`/link ${tok('9')}`, /refused that token/);
    expect(unknown.answer).toMatch(/^The loop server refused that token \(\w+\); nothing was linked\./);
    expect(unknown.deleted).toBe(true);
    // The loop server failing (503 past the client's retries) is not the token's fault.
    sim.faults.failNext(10, 503, { path: /\/loops/ });
    const down = await link(`/link ${ANN}`, /could not reach/);
    sim.faults.clearFailures();
    expect(down.answer).toContain('nothing was linked. Please try again in a moment.');
    expect(await h.vault.linked('test:ann')).toBeUndefined();
    // Where the platform does not let the bot delete it (Slack: cant_delete_message), the person is asked to.
    h.adapter.failNext('delete', new PlatformError('cant_delete_message', 'cant_delete_message', true));
    const kept = await link(`/link ${ANN}`, /Linked/);
    expect(kept.answer).toContain('I could not delete your message here: please delete it yourself.');
    expect(await h.vault.linked('test:ann')).toBeDefined();
    for (const t of texts(h.adapter, 'ann')) expect(t).not.toContain(ANN.slice(3));
    expect(await say(h, annDm, ann, '/unlink', /Unlinked/)).toContain('revoke it on the loop server');
    expect(await say(h, annDm, ann, '/unlink', /linked/)).toBe('No loop token of yours is linked.');
  });

  it('with shared tokens /link links nothing, and still takes the token off the chat', async () => {
    const h = await startHarness({ simulator: sim });
    open.push(h);
    const m = message(dm('u1'), person('u1'), `/link ${ANN}`);
    await h.adapter.inject(m);
    expect(await waitFor(() => texts(h.adapter, 'u1').find((t) => /nothing to link/.test(t)))).toBe('This bridge drives every loop with its own shared token, so there is nothing to link.');
    expect(h.adapter.calls.some((c) => c.method === 'delete' && c.messageId === m.messageId)).toBe(true);
  });
});
