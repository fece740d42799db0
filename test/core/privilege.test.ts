// Who may change what: the permission mode, the loop binding, and which turn a Stop button stops.

import { describe, expect, it } from 'vitest';
import type { PermissionMode } from '../../src/loop-api/types.js';
import { choosableModes, isLooser, mayChooseMode } from '../../src/core/mode-policy.js';
import { dm, finalReply, group, harnessSuite, loopOf, message, messageMatching, person, press, texts, waitFor, type Harness } from './fixtures.js';

const suite = harnessSuite();
const harness = suite.harness;

const u1 = person('u1');
const admin = person('admin');
const member = person('m1', 'Mallory');
const g = group('g1');
/** g1 is listed in access.groups: every member may talk to the bot there. */
const openGroup = { access: { groups: ['test:g1'] } };

/** Records the permission mode each turn is sent with (the calls still go to the simulator). */
function recordModes(h: Harness): Array<{ content: string; mode?: PermissionMode }> {
  const sent: Array<{ content: string; mode?: PermissionMode }> = [];
  const original = h.client.sendMessage.bind(h.client);
  h.client.sendMessage = (loopId, input, opts) => {
    sent.push({ content: input.content, mode: input.permissionMode });
    return original(loopId, input, opts);
  };
  return sent;
}

/** Injects a message and resolves with the first new bot message in that chat matching `re`. */
async function say(h: Harness, conv: ReturnType<typeof dm>, who: ReturnType<typeof person>, text: string, re: RegExp): Promise<string> {
  const before = h.adapter.chat(conv.chatId).length;
  await h.adapter.inject(message(conv, who, text, { mentionsBot: !conv.isDirect }));
  return waitFor(() => h.adapter.chat(conv.chatId).slice(before).find((m) => re.test(m.text))?.text, `an answer to ${text} matching ${re}`);
}

describe('mode policy', () => {
  it('ranks modes by what the loop server lets a turn do: dontAsk and auto are as loose as bypassPermissions', () => {
    expect(isLooser('bypassPermissions', 'default')).toBe(true);
    expect(isLooser('dontAsk', 'default')).toBe(true);
    expect(isLooser('auto', 'acceptEdits')).toBe(true);
    expect(isLooser('acceptEdits', 'default')).toBe(true);
    expect(isLooser('plan', 'default')).toBe(false);
    expect(isLooser('default', 'default')).toBe(false);
  });

  it('admins choose anything; a person in their own DM up to the default; nobody else in a group', () => {
    expect(choosableModes({ isAdmin: true, isDirect: false }, 'default')).toHaveLength(6);
    expect(choosableModes({ isAdmin: false, isDirect: true }, 'default')).toEqual(['plan', 'default']);
    expect(choosableModes({ isAdmin: false, isDirect: true }, 'acceptEdits')).toEqual(['plan', 'default', 'acceptEdits']);
    expect(choosableModes({ isAdmin: false, isDirect: false }, 'bypassPermissions')).toEqual([]);
    expect(mayChooseMode({ isAdmin: false, isDirect: true }, 'dontAsk', 'default')).toBe(false);
  });
});

describe('privilege', () => {
  it('a group member who is neither a user nor an admin cannot switch the group to bypassPermissions; turns keep the default mode', async () => {
    const h = await harness(openGroup);
    const modes = recordModes(h);
    const refusal = await say(h, g, member, '/mode bypassPermissions', /Only an admin/);
    expect(refusal).toContain('`bypassPermissions`');
    expect(await say(h, g, member, '/status', /Mode:/)).toContain('Mode: `default`');
    await h.adapter.inject(message(g, member, 'hello after the attempt', { mentionsBot: true }));
    await finalReply(h, 'g1', /Echo:\*\* hello after the attempt/);
    expect(modes.find((s) => s.content === 'hello after the attempt')?.mode).toBe('default');
  });

  it('in a group only admins change the mode, also to a stricter one', async () => {
    const h = await harness();
    expect(await say(h, g, u1, '/mode plan', /Only an admin|Mode set/)).toMatch(/Only an admin can set `plan` here: the mode is shared by everyone in this chat\.$/);
    expect(await say(h, g, admin, '/mode acceptEdits', /Mode set|Only an admin/)).toBe('Mode set to `acceptEdits` for this conversation.');
  });

  it('in their own DM a user may choose a stricter mode, not a looser one; an admin may choose any', async () => {
    const h = await harness();
    const modes = recordModes(h);
    const u1dm = dm('u1');
    for (const loose of ['acceptEdits', 'dontAsk', 'auto', 'bypassPermissions']) {
      const t = await say(h, u1dm, u1, `/mode ${loose}`, /Only an admin|Mode set/);
      expect(t).toMatch(/Only an admin can set .* than this bridge's default \(`default`\)\. Choose one of: `plan`, `default`\./);
    }
    expect(await say(h, u1dm, u1, '/mode plan', /Mode set|Only an admin/)).toBe('Mode set to `plan` for this conversation.');
    await h.adapter.inject(message(u1dm, u1, 'in plan mode'));
    await finalReply(h, 'u1', /Echo:\*\* in plan mode/);
    expect(modes.find((s) => s.content === 'in plan mode')?.mode).toBe('plan');

    const adminDm = dm('admin');
    expect(await say(h, adminDm, admin, '/mode bypassPermissions', /Mode set|Only an admin/)).toBe('Mode set to `bypassPermissions` for this conversation.');
  });

  it('/attach and /detach are admin-only: a member cannot bind the group to someone\'s private loop', async () => {
    const h = await harness(openGroup);
    await h.adapter.inject(message(dm('u1'), u1, 'my private work'));
    await finalReply(h, 'u1', /Echo:\*\* my private work/);
    const privateLoop = (await loopOf(h.store, dm('u1')))!;

    expect(await say(h, g, member, `/attach ${privateLoop}`, /Only admins|Attached/)).toMatch(/Only admins can attach/);
    await h.adapter.inject(message(g, member, 'what is in there?', { mentionsBot: true }));
    await finalReply(h, 'g1', /Echo:\*\* what is in there\?/);
    expect(suite.sim.received(privateLoop)).toEqual(['my private work']);
    expect(await loopOf(h.store, g)).not.toBe(privateLoop);
    // Nothing of the private loop was mirrored into the group.
    expect(texts(h.adapter, 'g1').some((t) => t.includes('my private work'))).toBe(false);

    expect(await say(h, g, member, '/detach', /Only admins|Detached/)).toMatch(/Only admins can detach/);
    expect(await loopOf(h.store, g)).toBeTruthy();
    expect(await say(h, dm('u1'), u1, '/detach', /Only admins|Detached/)).toMatch(/Only admins can detach/);
  });

  it('/attach of a loop another conversation is bound to: an admin must say "shared", and the reply says it is shared', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'u1 owns this loop'));
    await finalReply(h, 'u1', /Echo:\*\* u1 owns this loop/);
    const loop = (await loopOf(h.store, dm('u1')))!;
    const adminDm = dm('admin');

    const warned = await say(h, adminDm, admin, `/attach ${loop}`, /already bound|Attached/);
    expect(warned).toContain('already bound to another conversation (`test:u1`)');
    expect(warned).toContain(`/attach ${loop} shared`);
    expect(await loopOf(h.store, adminDm)).toBeUndefined();

    const done = await say(h, adminDm, admin, `/attach ${loop} shared`, /Attached|already bound/);
    expect(done).toContain('Shared with `test:u1`');
    expect(await loopOf(h.store, adminDm)).toBe(loop);

    // A loop nobody else is bound to attaches without ceremony.
    const fresh = await h.client.createLoop({ title: 'free loop' });
    expect(await say(h, adminDm, admin, `/attach ${fresh.id}`, /Attached|already bound/)).not.toContain('Shared');
  });

  it('a Stop button stops only the turn it was shown with, not a later one', async () => {
    const h = await harness();
    const u1dm = dm('u1');
    await h.adapter.inject(message(u1dm, u1, 'slow 2'));
    const first = await waitFor(() => messageMatching(h.adapter, 'u1', /tick 1\/2/)?.buttons?.flat().find((b) => b.label.includes('Stop')), 'the Stop button of the first turn');
    await finalReply(h, 'u1', /tick 2\/2/);

    await h.adapter.inject(message(u1dm, u1, 'slow 4'));
    await waitFor(() => messageMatching(h.adapter, 'u1', /tick 1\/4/), 'the second turn running');
    const stale = press(u1dm, u1, first.token);
    await h.adapter.inject(stale);
    await waitFor(() => h.adapter.pressAnswers.find((a) => a.pressId === stale.pressId), 'the answer to the old button');
    expect(h.adapter.pressAnswers.find((a) => a.pressId === stale.pressId)?.notice).toMatch(/not valid any more|already finished/);
    const second = await finalReply(h, 'u1', /tick 1\/4/);
    expect(second.text).toContain('tick 4/4');
    expect(second.text).not.toContain('Stopped');

    // The running turn's own button still works.
    await h.adapter.inject(message(u1dm, u1, 'slow 30'));
    const own = await waitFor(() => messageMatching(h.adapter, 'u1', /tick 1\/30/)?.buttons?.flat().find((b) => b.label.includes('Stop')), 'the third turn\'s Stop');
    await h.adapter.inject(press(u1dm, u1, own.token));
    expect((await finalReply(h, 'u1', /tick 1\/30/)).text).toMatch(/⏹ Stopped\.$/);
  });
});
