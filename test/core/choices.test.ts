import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLowdbStore } from '../../src/store/lowdb-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { ChoiceRegistry, FINISHED_CHOICE_TTL_MS } from '../../src/core/choices.js';
import type { Outlet } from '../../src/core/outlet.js';
import type { LoopClient } from '../../src/loop-api/client.js';
import type { ConversationRef, Sender } from '../../src/core/adapter-types.js';
import { dm, group, message, person, press, harnessSuite, finalReply, waitFor, type Harness, type HarnessOptions } from './fixtures.js';

const suite = harnessSuite();
const harness = suite.harness;
// Short choice timeouts.
const slow = harnessSuite({ permissionTimeoutMs: 300, questionTimeoutMs: 300 });

const u1 = person('u1');
const admin = person('admin');
const stranger = person('s1', 'Stranger');

const reply = finalReply;

function prompt(h: Harness, chatId: string, re: RegExp) {
  return waitFor(() => h.adapter.chat(chatId).find((m) => re.test(m.text) && (m.buttons?.length || /Reply/.test(m.text))), `a prompt matching ${re}`);
}

/** Presses a button (by label) and resolves with the notice the presser got. */
async function pressButton(h: Harness, conv: ConversationRef, who: Sender, token: string): Promise<string | undefined> {
  const p = press(conv, who, token);
  await h.adapter.inject(p);
  const answered = await waitFor(() => h.adapter.pressAnswers.find((a) => a.pressId === p.pressId), 'the press to be answered');
  return answered.notice;
}

function token(m: { buttons?: Array<Array<{ label: string; token: string }>> }, label: RegExp): string {
  const b = m.buttons?.flat().find((x) => label.test(x.label));
  if (!b) throw new Error(`no button ${label}`);
  return b.token;
}

describe('choices: permission', () => {
  it('Allow by the owner: the loop gets allow, the tool runs, and the prompt shows the outcome', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const p = await prompt(h, 'u1', /Permission requested/);
    expect(p.text).toContain('rm -rf ./build');
    expect(p.buttons?.flat().map((b) => b.label)).toEqual(['✅ Allow', '🚫 Deny']);
    // Tokens are short and opaque: nothing a clicker could edit into another meaning.
    for (const b of p.buttons!.flat()) expect(b.token.length).toBeLessThanOrEqual(32);
    expect(await pressButton(h, dm('u1'), u1, token(p, /Allow/))).toMatch(/Allowed by U1/);
    await reply(h, 'u1', /I ran `rm -rf \.\/build`/);
    expect(h.adapter.messages.get(p.id)!.text).toContain('✅ Allowed by U1');
    expect(h.adapter.messages.get(p.id)!.buttons ?? []).toEqual([]);
  });

  it('Deny: the loop is told no and says so', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const p = await prompt(h, 'u1', /Permission requested/);
    await pressButton(h, dm('u1'), u1, token(p, /Deny/));
    await reply(h, 'u1', /Permission was denied/);
    expect(h.adapter.messages.get(p.id)!.text).toContain('🚫 Denied by U1');
  });

  it('in a group: a stranger is refused, an admin may answer, a second press says already answered', async () => {
    const h = await harness();
    const g = group('g1');
    await h.adapter.inject(message(g, u1, '@testbot permission please', { mentionsBot: true }));
    const p = await prompt(h, 'g1', /Permission requested/);
    const allow = token(p, /Allow/);
    const deny = token(p, /Deny/); // the recorded message is live: buttons go once answered
    expect(await pressButton(h, g, stranger, allow)).toBe('Only U1 or an admin can answer this.');
    expect(await pressButton(h, g, admin, allow)).toMatch(/Allowed by ADMIN/);
    expect(await pressButton(h, g, u1, deny)).toMatch(/^Already answered: ✅ Allowed by ADMIN/);
    await reply(h, 'g1', /I ran `rm -rf \.\/build`/);
  });

  it('a forged token, and a valid token pressed in another conversation, are not valid', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const p = await prompt(h, 'u1', /Permission requested/);
    const allow = token(p, /Allow/);
    expect(await pressButton(h, dm('u1'), u1, 'AAAAAAAAAAAAAAAAAAAAAA.a')).toBe('This button is not valid any more.');
    expect(await pressButton(h, dm('u1'), u1, allow.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')))).toBe('This button is not valid any more.');
    expect(await pressButton(h, group('elsewhere'), u1, allow)).toBe('This button is not valid any more.');
    // Still pending for the real conversation.
    expect(h.adapter.messages.get(p.id)!.buttons?.length).toBeGreaterThan(0);
    await pressButton(h, dm('u1'), u1, allow);
    await reply(h, 'u1', /I ran/);
  });

  it('a prompt the server timed out shows it expired, and a press after says so', async () => {
    const h = await harness({ simulator: slow.sim });
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const p = await prompt(h, 'u1', /Permission requested/);
    const allow = token(p, /Allow/);
    await reply(h, 'u1', /Permission timed out/);
    await waitFor(() => /Timed out/.test(h.adapter.messages.get(p.id)!.text), 'the prompt to show the timeout');
    expect(h.adapter.messages.get(p.id)!.buttons ?? []).toEqual([]);
    expect(await pressButton(h, dm('u1'), u1, allow)).toBe('This request has expired.');
  });
});

describe('finished records are pruned', () => {
  it('an answered choice says so when pressed again for a day, then its records are gone; no stop token outlives its turn', async () => {
    let clock = Date.now();
    const store = createMemoryStore({ now: () => clock });
    const h = await harness({ store });
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const allow = token(await prompt(h, 'u1', /Permission requested/), /Allow/);
    expect(await pressButton(h, dm('u1'), u1, allow)).toMatch(/Allowed by U1/);
    await reply(h, 'u1', /I ran/);
    await waitFor(async () => (await store.list('stop/')).length === 0 && (await store.list('turn/')).length === 0, 'the turn records gone');
    expect(await pressButton(h, dm('u1'), u1, allow)).toMatch(/Already answered/);
    clock += FINISHED_CHOICE_TTL_MS;
    expect(await store.list('choice/')).toEqual([]);
    expect(await store.list('choiceidx/')).toEqual([]);
    expect(await pressButton(h, dm('u1'), u1, allow)).toMatch(/not valid any more/);
  });
});

describe('a choice answered before its message was sent', () => {
  it('the message shows the outcome, and the record stays slim and expiring', async () => {
    let clock = Date.now();
    const store = createMemoryStore({ now: () => clock });
    const registry = new ChoiceRegistry({ store, client: {} as LoopClient, isAdmin: () => false, log: { warn: () => {} } });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const edits: string[] = [];
    // Just the outlet calls the registry makes; the send is held open while the loop resolves the choice.
    const outlet = {
      adapter: { capabilities: { buttons: 'native' } },
      send: async (conversation: ConversationRef) => {
        await held;
        return { conversation, messageId: 'm1' };
      },
      edit: async (_ref: unknown, message: { text: string }) => void edits.push(message.text),
    } as unknown as Outlet;
    const conversation = dm('u1');
    const opening = registry.open(
      { outlet, conversation, loopId: 'L1', owner: u1, toolSummaries: {} },
      { type: 'requires_choice', choiceId: 'choice_t1', kind: 'permission', payload: { tool: 'Bash', command: 'ls' } } as never,
    );
    await waitFor(async () => (await store.list('choiceidx/')).length === 1, 'the choice to be recorded');
    await registry.resolved(outlet, 'L1', 'choice_t1');
    release();
    await opening;
    expect(edits).toHaveLength(1);
    expect(edits[0]).toMatch(/Permission requested[\s\S]*Answered elsewhere/);
    const [[, rec]] = await store.list<{ state: string; permission?: unknown; message?: unknown }>('choice/');
    expect(rec).toMatchObject({ state: 'answered', message: { messageId: 'm1' } });
    expect(rec.permission).toBeUndefined();
    clock += FINISHED_CHOICE_TTL_MS;
    expect(await store.list('choice/')).toEqual([]);
  });
});

describe('choices across a restart', () => {
  it('a prompt shown before the daemon stopped is answerable after it starts again, and the turn completes once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lb-choice-restart-'));
    const path = join(dir, 'state.json');
    try {
      const store1 = await openLowdbStore({ path, flushDelayMs: 5 });
      const h1 = await harness({ store: store1 });
      await h1.adapter.inject(message(dm('u1'), u1, 'permission before restart'));
      const p = await prompt(h1, 'u1', /Permission requested/);
      await h1.close();
      await store1.close();

      const store2 = await openLowdbStore({ path, flushDelayMs: 5 });
      const h2 = await harness({ store: store2 });
      // The restarted daemon re-follows the waiting turn (a stream is open again) before the person presses.
      // (A press before that would let the loop finish while nobody listens: the reply would then say so.)
      await waitFor(() => suite.sim.listeners() > 0, 'the resumed turn to listen again');
      // The press arrives on the new process (the platform keeps the old message and its buttons).
      expect(await pressButton(h2, dm('u1'), u1, token(p, /Allow/))).toMatch(/Allowed by U1/);
      await reply(h2, 'u1', /I ran `rm -rf \.\/build`/);
      expect(h2.adapter.chat('u1').filter((m) => /I ran/.test(m.text))).toHaveLength(1);
      expect(h2.adapter.chat('u1').some((m) => /may be missing/.test(m.text))).toBe(false);
      await h2.close();
      await store2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('choices: questions', () => {
  it('single select, multi-select toggles and Submit reach the loop, which echoes the answers', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'question time'));
    const q1 = await prompt(h, 'u1', /Which language/);
    expect(await pressButton(h, dm('u1'), u1, token(q1, /Python/))).toBe('Noted.');
    const q2 = await waitFor(() => {
      const m = h.adapter.messages.get(q1.id)!;
      return /Which extras/.test(m.text) ? m : undefined;
    }, 'the second question on the same message');
    const extras = { ...q2, buttons: q2.buttons };
    expect(await pressButton(h, dm('u1'), u1, token(extras, /Tests/))).toBe('Selected: Tests');
    expect(await pressButton(h, dm('u1'), u1, token(extras, /Docs/))).toBe('Selected: Docs');
    expect(await pressButton(h, dm('u1'), u1, token(extras, /CI/))).toBe('Selected: CI');
    expect(await pressButton(h, dm('u1'), u1, token(extras, /Docs/))).toBe('Unselected: Docs');
    expect(h.adapter.messages.get(q1.id)!.buttons?.flat().map((b) => b.label)).toEqual(['☑ Tests', '☐ Docs', '☑ CI', 'Submit']);
    expect(await pressButton(h, dm('u1'), u1, token(extras, /Submit/))).toMatch(/Answered by U1/);
    const r = await reply(h, 'u1', /You answered/);
    expect(r.text).toContain('Which language should the example use? → Python');
    expect(r.text).toContain('Which extras do you want? → Tests, CI');
    expect(h.adapter.messages.get(q1.id)!.text).toMatch(/Language: Python; Extras: Tests, CI/);
  });

  it('a typed message answers a pending question (free text, then numbers for the multi-select)', async () => {
    const h = await harness();
    await h.adapter.inject(message(dm('u1'), u1, 'question time'));
    await prompt(h, 'u1', /Which language/);
    await h.adapter.inject(message(dm('u1'), u1, 'Rust, please'));
    await prompt(h, 'u1', /Which extras/);
    await h.adapter.inject(message(dm('u1'), u1, '1, 3'));
    const r = await reply(h, 'u1', /You answered/);
    expect(r.text).toContain('Which language should the example use? → Rust, please');
    expect(r.text).toContain('Which extras do you want? → Tests, CI');
  });
});

describe('choices: text-mode adapter (no buttons)', () => {
  const textMode: HarnessOptions = { adapter: { capabilities: { buttons: 'text' } } };

  it('a permission is answered by typing allow', async () => {
    const h = await harness(textMode);
    await h.adapter.inject(message(dm('u1'), u1, 'permission please'));
    const p = await prompt(h, 'u1', /Permission requested/);
    expect(p.buttons).toBeUndefined();
    expect(p.text).toMatch(/Reply \*\*allow\*\* or \*\*deny\*\*/);
    await h.adapter.inject(message(dm('u1'), u1, 'allow'));
    await reply(h, 'u1', /I ran `rm -rf/);
  });

  it('a question is answered with a number, then `1,2` for the multi-select', async () => {
    const h = await harness(textMode);
    await h.adapter.inject(message(dm('u1'), u1, 'question time'));
    const q = await prompt(h, 'u1', /Which language/);
    expect(q.text).toMatch(/1\. \*\*TypeScript\*\*/);
    await h.adapter.inject(message(dm('u1'), u1, '3'));
    await prompt(h, 'u1', /Which extras/);
    await h.adapter.inject(message(dm('u1'), u1, '1,2'));
    const r = await reply(h, 'u1', /You answered/);
    expect(r.text).toContain('Which language should the example use? → Go');
    expect(r.text).toContain('Which extras do you want? → Tests, Docs');
  });

  it('a stranger typing allow in a group does not answer the owner’s prompt', async () => {
    const h = await harness({ ...textMode, access: { groups: ['test:g1'] } });
    const g = group('g1');
    await h.adapter.inject(message(g, u1, '@testbot permission please', { mentionsBot: true }));
    const p = await prompt(h, 'g1', /Permission requested/);
    await h.adapter.inject(message(g, stranger, '@testbot allow', { mentionsBot: true }));
    await h.adapter.inject(message(g, u1, '@testbot deny', { mentionsBot: true }));
    await reply(h, 'g1', /Permission was denied/);
    expect(h.adapter.messages.get(p.id)!.text).toContain('Denied by U1');
  });
});
