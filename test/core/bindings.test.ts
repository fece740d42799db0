// Bindings: which rule applies to a conversation (first match wins), what a loop is created with there
// (checked at the simulator), a binding to an existing loop, and per-binding routing (mention gate, mirror).

import { describe, expect, it } from 'vitest';
import { Bindings, effectiveLoopId, loopCreation, type BindingRule } from '../../src/core/bindings.js';
import type { ConversationRecord } from '../../src/core/state.js';
import { dm, finalReply, group, harnessSuite, loopOf, message, person, say, texts, waitFor } from './fixtures.js';

const suite = harnessSuite();
const u1 = person('u1');
const admin = person('admin');


describe('Bindings (matching)', () => {
  const rules: BindingRule[] = [
    { platform: 'telegram', chat: '-100123', thread: '7', repo: 'acme/topic' },
    { platform: 'telegram', chat: '-100123', repo: 'acme/api' },
    { platform: 'telegram', chat: '/^-100/', repo: 'acme/any-group' },
    { platform: 'slack', chat: 'C1', thread: '/^17/', repo: 'acme/threads' },
  ];
  const b = new Bindings(rules);

  it('the first rule that matches wins; a rule with a thread matches only that thread, one without matches the chat and its threads', () => {
    expect(b.resolve({ platform: 'telegram', chatId: '-100123', threadId: '7' })?.path).toBe('bindings[0]');
    expect(b.resolve({ platform: 'telegram', chatId: '-100123', threadId: '8' })?.repo).toBe('acme/api');
    expect(b.resolve({ platform: 'telegram', chatId: '-100123' })?.path).toBe('bindings[1]');
    expect(b.resolve({ platform: 'telegram', chatId: '-100999' })?.repo).toBe('acme/any-group');
    expect(b.resolve({ platform: 'telegram', chatId: '4242' })).toBeUndefined(); // a DM: no rule
    expect(b.resolve({ platform: 'slack', chatId: '-100123' })).toBeUndefined(); // platform must match
    expect(b.resolve({ platform: 'slack', chatId: 'C1', threadId: '1712.1' })?.path).toBe('bindings[3]');
    expect(b.resolve({ platform: 'slack', chatId: 'C1' })).toBeUndefined();
    expect(b.resolve({ platform: 'slack', chatId: 'C1', threadId: '99' })).toBeUndefined();
  });

  it('an operator bind wins over a binding loop, which wins over the conversation\'s own loop', () => {
    const rule = new Bindings([{ platform: 'test', chat: 'g', loopId: 'loop_cfg' }]).resolve({ platform: 'test', chatId: 'g' });
    const conv = (c: Partial<ConversationRecord>) => c as ConversationRecord;
    expect(effectiveLoopId(conv({ loopId: 'loop_own' }), undefined)).toBe('loop_own');
    expect(effectiveLoopId(conv({ loopId: 'loop_own' }), rule)).toBe('loop_cfg');
    expect(effectiveLoopId(conv({ loopId: 'loop_op', boundBy: 'operator' }), rule)).toBe('loop_op');
    expect(effectiveLoopId(conv({}), undefined)).toBeUndefined();
  });

  it('renders the title template and merges metadata under the bridge\'s own keys', () => {
    const rule = new Bindings([{ platform: 'telegram', chat: '-1', title: '{chat} · {sender} on {platform}: {message}', metadata: { team: 'api', platform: 'spoofed' } }]).resolve({ platform: 'telegram', chatId: '-1' });
    const c = loopCreation(rule, { key: 'telegram:-1', ref: { platform: 'telegram', chatId: '-1', isDirect: false } }, { text: '  fix\nthe   build ', sender: { id: '7', displayName: 'Ann', isBot: false }, chatTitle: 'Backend' }, 'telegram:7');
    expect(c.title).toBe('Backend · Ann on telegram: fix the build');
    expect(c.metadata).toEqual({ team: 'api', bridge: 'loopbridge', platform: 'telegram', conversation: 'telegram:-1', chat_id: '-1', user: 'telegram:7' });
    const long = loopCreation(rule, { key: 'k', ref: { platform: 'telegram', chatId: '-1', isDirect: false } }, { text: 'x'.repeat(500), sender: { id: '7', isBot: false } }, 'telegram:7');
    expect(long.title.length).toBeLessThanOrEqual(200);
    expect(long.title).toContain('-1 · 7 on telegram'); // no chat title: the id; no name: the user id
  });
});

describe('bindings through the bridge (checked at the simulator)', () => {
  it('a bound group\'s loop is made with the binding\'s parameters; a DM gets the defaults', async () => {
    const h = await suite.harness({
      bridge: {
        bindings: [
          { platform: 'test', chat: '/^team-/', repo: 'acme/api', permissionMode: 'acceptEdits', title: '{chat}: {message}', profiles: ['backend'], vault: 'team', metadata: { team: 'api' } },
        ],
      },
    });
    const team = group('team-api');
    await h.adapter.inject(message(team, u1, 'fix the flaky test', { mentionsBot: true, chatTitle: 'API team' }));
    await finalReply(h, 'team-api', /Echo:\*\* fix the flaky test/);
    const teamLoop = (await loopOf(h.store, team))!;
    expect(suite.sim.creation(teamLoop)).toEqual({
      id: teamLoop,
      createdBy: 'alice',
      title: 'API team: fix the flaky test',
      repo: 'acme/api',
      profiles: ['backend'],
      vault: 'team',
      metadata: { team: 'api', bridge: 'loopbridge', platform: 'test', conversation: 'test:team-api', chat_id: 'team-api', user: 'test:u1' },
      permissionMode: 'acceptEdits',
    });

    await h.adapter.inject(message(dm('u1'), u1, 'just me'));
    await finalReply(h, 'u1', /Echo:\*\* just me/);
    const dmLoop = (await loopOf(h.store, dm('u1')))!;
    expect(suite.sim.creation(dmLoop)).toMatchObject({ title: 'just me', repo: null, profiles: [], vault: 'default', permissionMode: 'default' });
    expect(suite.sim.creation(dmLoop)!.metadata).toEqual({ bridge: 'loopbridge', platform: 'test', conversation: 'test:u1', chat_id: 'u1', user: 'test:u1' });

    const status = await say(h, team, u1, '/status', /^Loop:/);
    expect(status).toContain('Binding: bindings[0] (test chat /^team-/): repo acme/api, mode acceptEdits');
    expect(status).toContain('Mode: `acceptEdits`');
    expect(status).toContain('Started by: U1 (test:u1)');
    expect(await say(h, group('other'), u1, '/status', /Binding/, { mentionsBot: true })).toContain('Binding: none (the bridge defaults)');
  });

  it('a binding to an existing loop: every message goes there, /new /attach /detach are refused with the reason', async () => {
    const existing = await (await suite.harness()).client.createLoop({ title: 'the team loop' });
    const h = await suite.harness({ access: { admins: ['test:admin'] }, bridge: { bindings: [{ platform: 'test', chat: 'ops', loopId: existing.id }] } });
    const ops = group('ops');
    await h.adapter.inject(message(ops, u1, 'first', { mentionsBot: true }));
    await finalReply(h, 'ops', /Echo:\*\* first/);
    await h.adapter.inject(message(ops, admin, 'second', { mentionsBot: true }));
    await finalReply(h, 'ops', /Echo:\*\* second/);
    expect(suite.sim.received(existing.id)).toEqual(['first', 'second']);
    expect(await loopOf(h.store, ops)).toBe(existing.id);

    const refused = await say(h, ops, u1, '/new', /not available/);
    expect(refused).toContain(`bound to loop \`${existing.id}\``);
    expect(refused).toContain('bindings[0]');
    expect(await say(h, ops, admin, '/attach loop_00000000-0000-4000-8000-000000000000', /not available/)).toContain('/attach');
    expect(await say(h, ops, admin, '/detach', /not available/)).toContain('/detach');
    await h.adapter.inject(message(ops, u1, 'third', { mentionsBot: true }));
    await finalReply(h, 'ops', /Echo:\*\* third/);
    expect(suite.sim.received(existing.id)).toEqual(['first', 'second', 'third']);
    expect(await say(h, ops, u1, '/status', /^Loop:/)).toContain(`Binding: bindings[0] (test chat ops): loop ${existing.id}`);
  });

  it('per-binding mention gate: one group answers without a mention, another only to its own pattern', async () => {
    const h = await suite.harness({
      bridge: {
        bindings: [
          { platform: 'test', chat: 'open-room', requireMention: false },
          { platform: 'test', chat: 'named-room', mentionPatterns: ['\\bjarvis\\b'] },
        ],
      },
    });
    await h.adapter.inject(message(group('open-room'), u1, 'no mention needed'));
    await finalReply(h, 'open-room', /Echo:\*\* no mention needed/);
    await h.adapter.inject(message(group('named-room'), u1, 'hey jarvis, status?'));
    await finalReply(h, 'named-room', /Echo:\*\* hey jarvis/);
    await h.adapter.inject(message(group('named-room'), u1, 'chatter between people'));
    await h.adapter.inject(message(group('plain-room'), u1, 'hey jarvis here too'));
    // The two that were not addressed here were not taken: a later addressed message is the only other turn.
    await h.adapter.inject(message(group('named-room'), u1, 'jarvis again'));
    await finalReply(h, 'named-room', /Echo:\*\* jarvis again/);
    expect(texts(h.adapter, 'named-room').some((t) => t.includes('chatter'))).toBe(false);
    expect(suite.sim.received((await loopOf(h.store, group('named-room')))!)).toEqual(['hey jarvis, status?', 'jarvis again']);
    expect(await loopOf(h.store, group('plain-room'))).toBeUndefined();
  });

  it('a mirroring binding shows turns other clients run on its loop', async () => {
    const h0 = await suite.harness();
    const loop = await h0.client.createLoop({ title: 'watched' });
    const h = await suite.harness({ bridge: { bindings: [{ platform: 'test', chat: 'watch', loopId: loop.id, mirror: true }] } });
    const watch = group('watch');
    // The conversation becomes known with its first message; from then on the mirror runs.
    await h.adapter.inject(message(watch, u1, 'hello', { mentionsBot: true }));
    await finalReply(h, 'watch', /Echo:\*\* hello/);
    await waitFor(() => suite.sim.listeners(loop.id) > 0, 'the mirror to watch the loop');
    for await (const ev of h0.client.sendMessage(loop.id, { content: 'from the web ui' }, { idempotencyKey: 'web-1' })) void ev;
    await finalReply(h, 'watch', /Echo:\*\* from the web ui/);
    expect(texts(h.adapter, 'watch').filter((t) => /Echo:\*\* hello/.test(t))).toHaveLength(1); // our own turn is not mirrored twice
    // After a restart the mirror comes back from the stored conversation and the binding.
    await h.close();
    const again = await suite.harness({ store: h.store, bridge: { bindings: [{ platform: 'test', chat: 'watch', loopId: loop.id, mirror: true }] } });
    await waitFor(() => suite.sim.listeners(loop.id) > 0, 'the mirror to watch again after a restart');
    for await (const ev of h0.client.sendMessage(loop.id, { content: 'after restart' }, { idempotencyKey: 'web-2' })) void ev;
    await finalReply(again, 'watch', /Echo:\*\* after restart/);
  });
});
