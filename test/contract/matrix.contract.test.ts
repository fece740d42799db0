// The Matrix adapter runs the adapter contract against a real Synapse (the run's test homeserver). The
// bot reaches it through a fault proxy, which fails outbound calls on demand (a reverse proxy's 502) and
// replays a /sync (the same position read again, as after a quick restart), and counts Synapse's 429s.

import { MatrixClient } from 'matrix-bot-sdk';
import { MatrixAdapter } from '../../adapters/matrix/index.js';
import { COMMANDS } from '../../src/core/commands.js';
import { MatrixPerson, synapse, uniqueName } from '../helpers/matrix.js';
import { waitFor } from '../helpers/wait.js';
import { startFaultProxy, type FaultProxy } from '../peers/synapse/fault-proxy.js';
import { registerUser, type SynapseAccount } from '../peers/synapse/synapse.js';
import { describeAdapterContract, type PlatformRun } from './adapter-contract.js';

let proxy: FaultProxy;
let bot: SynapseAccount;
let botClient: MatrixClient;
let alice: MatrixPerson;
let carol: MatrixPerson;
let dm: string;
let group: string;
const own = new Set<string>();

// Fixed names are fine for ids the contract needs before setup runs: the real ids are filled in there.
const ids = { user: '', group: '', member: '' };

const texts = async (room: string) => (await alice.messagesOf(room, bot.userId)).filter((m) => !own.has(m.eventId)).map((m) => m.body);

describeAdapterContract({
  name: 'matrix',
  get user() {
    return ids.user;
  },
  get group() {
    return ids.group;
  },
  get member() {
    return ids.member;
  },
  skips: {},
  async setup() {
    const server = synapse();
    bot = await registerUser(server, uniqueName('loopbot'), { displayName: 'Loop Bot' });
    botClient = new MatrixClient(server.url, bot.accessToken);
    alice = await MatrixPerson.register(server, 'alice', 'Alice');
    carol = await MatrixPerson.register(server, 'carol', 'Carol');
    ids.user = `matrix:${alice.userId}`;
    ids.member = `matrix:${carol.userId}`;
    dm = await alice.createRoom({ invite: [bot.userId], direct: true });
    group = await alice.createRoom({ invite: [bot.userId, carol.userId], name: 'Team' });
    ids.group = `matrix:${group}`;
    // The bot is already in both rooms when the bridge first starts (as after an earlier auto-join).
    await botClient.joinRoom(dm);
    await botClient.joinRoom(group);
    await carol.join(group);
    proxy = await startFaultProxy(server.url);
  },
  async teardown() {
    await proxy.close();
  },
  rateLimitViolations: () => proxy.rateLimited(),
  async open(): Promise<PlatformRun> {
    const adapter = new MatrixAdapter({
      homeserverUrl: proxy.url,
      accessToken: bot.accessToken,
      invites: { users: new Set([alice.userId]) },
      commands: Object.keys(COMMANDS),
      syncTimeoutMs: 1000,
    });
    return {
      adapter,
      async say(text, options) {
        if (options?.messageId) {
          // Redelivery: the bot's next /sync reads again from before that message.
          await proxy.replaySyncWith(options.messageId);
          return options.messageId;
        }
        return alice.say(dm, text);
      },
      async sayInGroup(text, mention) {
        await alice.say(group, text, mention ? { mention: [{ userId: bot.userId, displayName: 'Loop Bot' }] } : {});
      },
      async sayInGroupAsMember(text, mention) {
        await carol.say(group, text, mention ? { mention: [{ userId: bot.userId, displayName: 'Loop Bot' }] } : {});
      },
      async ownMessage(text) {
        own.add(await botClient.sendMessage(dm, { msgtype: 'm.text', body: text }));
      },
      botTexts: () => texts(dm),
      groupTexts: () => texts(group),
      async allow() {
        const choice = await waitFor(async () => (await alice.messagesOf(dm, bot.userId)).filter((m) => m.body.includes('Permission requested')).at(-1));
        await alice.react(dm, choice.eventId, '✅');
      },
      async failNextCalls(n) {
        proxy.failNext(n);
      },
      async replyToLastBotMessage(text) {
        const last = (await alice.messagesOf(dm, bot.userId)).filter((m) => !own.has(m.eventId)).at(-1);
        if (!last) throw new Error('the bot has not written in the DM yet');
        await alice.say(dm, text, { replyTo: last.eventId });
      },
      async close() {},
    };
  },
});
