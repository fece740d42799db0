// Choices on Matrix against a real Synapse: the choice message lists the options and carries the bot's
// seed reactions; it is answered by the requester's reaction (✅/❌, 1️⃣…) or typed command (`!allow`,
// `!deny`, `!2`, `!1,3`), or by an admin; anyone else's reaction changes nothing and their typed answer
// is refused in the room; the outcome shows by editing the choice message.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MatrixPerson, synapse, type ShownMessage } from '../../helpers/matrix.js';
import { startMatrixWorld, type MatrixWorld } from '../../helpers/matrix-bridge.js';
import { waitFor } from '../../helpers/wait.js';
import { registerUser, type SynapseAccount } from '../../peers/synapse/synapse.js';

let world: MatrixWorld;
let bot: SynapseAccount;
let alice: MatrixPerson;
let bob: MatrixPerson;
let carol: MatrixPerson;
let dave: MatrixPerson;
let dm: string;
let group: string;
const BOT_NAME = 'Choice Bot';
const mention = () => ({ mention: [{ userId: bot.userId, displayName: BOT_NAME }] });

const shown = (room: string) => alice.messagesOf(room, bot.userId);

/** The newest bot message matching `re` once it exists. */
function latest(room: string, re: RegExp, what: string, from = 0): Promise<ShownMessage> {
  return waitFor(async () => (await shown(room)).slice(from).filter((m) => re.test(m.body)).at(-1), what, 20_000);
}

/** Reactions on an event, as `key by sender`. */
async function reactionsOn(room: string, eventId: string): Promise<string[]> {
  const r = await alice.client.doRequest('GET', `/_matrix/client/v1/rooms/${encodeURIComponent(room)}/relations/${encodeURIComponent(eventId)}/m.annotation`);
  return (r.chunk as Array<{ sender: string; content: { 'm.relates_to': { key: string } } }>).map((e) => `${e.content['m.relates_to'].key} by ${e.sender}`);
}

beforeAll(async () => {
  const server = synapse();
  bot = await registerUser(server, `choicebot_${Date.now().toString(36)}`, { displayName: BOT_NAME });
  alice = await MatrixPerson.register(server, 'alice', 'Alice');
  bob = await MatrixPerson.register(server, 'bob', 'Bob');
  carol = await MatrixPerson.register(server, 'carol', 'Carol');
  dave = await MatrixPerson.register(server, 'dave', 'Dave');
  world = await startMatrixWorld({ server, bot, access: { users: [`matrix:${alice.userId}`, `matrix:${carol.userId}`], admins: [`matrix:${bob.userId}`] } });
  dm = await alice.createRoom({ invite: [bot.userId], direct: true });
  group = await alice.createRoom({ invite: [bot.userId, bob.userId, carol.userId, dave.userId], name: 'Choices' });
  for (const p of [bob, carol, dave]) await p.join(group);
  await waitFor(async () => ((await alice.joined(dm)).includes(bot.userId) && (await alice.joined(group)).includes(bot.userId) ? true : undefined), 'the bot to join', 20_000);
});

afterAll(async () => {
  await world?.close();
});

describe('matrix choices', () => {
  it('a permission is answered by the requester\'s ✅ on the choice message; the message then shows the outcome', async () => {
    const from = (await shown(dm)).length;
    await alice.say(dm, 'permission please');
    const choice = await latest(dm, /Permission requested/, 'the choice message', from);
    expect(choice.body).toMatch(/React ✅ to allow or ❌ to deny/);
    await waitFor(async () => ((await reactionsOn(dm, choice.eventId)).length === 2 ? true : undefined), 'the seed reactions');
    expect((await reactionsOn(dm, choice.eventId)).sort()).toEqual([`✅ by ${bot.userId}`, `❌ by ${bot.userId}`].sort());
    await alice.react(dm, choice.eventId, '✅');
    await latest(dm, /I ran/, 'the rest of the turn', from);
    const closed = await waitFor(async () => (await shown(dm)).find((m) => m.eventId === choice.eventId && m.body.includes('Allowed by Alice')), 'the outcome');
    expect(closed.body).not.toContain('React ✅');
  });

  it('in a group, other people\'s reactions change nothing; a stranger\'s neither; the requester\'s !deny decides', async () => {
    const from = (await shown(group)).length;
    await alice.say(group, 'permission for the group', mention());
    const choice = await latest(group, /Permission requested/, 'the choice message', from);
    await carol.react(group, choice.eventId, '✅'); // an allowed user, but not the requester
    await dave.react(group, choice.eventId, '✅'); // a stranger
    await carol.say(group, '!allow'); // typed, by someone else: refused, never loop text
    await latest(group, /Only Alice or an admin can answer this/, 'the refusal', from);
    await alice.say(group, '!deny'); // no mention needed while the choice waits
    await latest(group, /denied/i, 'the denied turn', from);
    await waitFor(async () => (await shown(group)).find((m) => m.eventId === choice.eventId && m.body.includes('Denied by Alice')), 'the outcome');
    const loopId = (await world.loopOf({ chatId: group }))!;
    expect(world.sim.received(loopId).some((t) => t.includes('!allow'))).toBe(false);
  });

  it('an admin may answer someone else\'s choice with a reaction', async () => {
    const from = (await shown(group)).length;
    await alice.say(group, 'permission for the admin', mention());
    const choice = await latest(group, /Permission requested/, 'the choice message', from);
    await bob.react(group, choice.eventId, '✅');
    await latest(group, /I ran/, 'the allowed turn', from);
    await waitFor(async () => (await shown(group)).find((m) => m.eventId === choice.eventId && m.body.includes('Allowed by Bob')), 'the outcome');
  });

  it('questions: a number reaction answers a single choice, !1,3 a multiple one', async () => {
    const from = (await shown(dm)).length;
    await alice.say(dm, 'question please');
    const first = await latest(dm, /Which language/, 'the first question', from);
    expect(first.body).toMatch(/React with a number/);
    await waitFor(async () => ((await reactionsOn(dm, first.eventId)).length === 3 ? true : undefined), 'the number reactions');
    await alice.react(dm, first.eventId, '2️⃣');
    await latest(dm, /Which extras/, 'the second question', from);
    await alice.say(dm, '!1,3');
    const reply = await latest(dm, /Python/, 'the answers in the reply', from + 1);
    expect(reply.body).toMatch(/Tests, CI|Tests.*CI/);
  });
});
