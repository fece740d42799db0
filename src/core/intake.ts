// The router: what to do with each inbound event. Own and other bots' messages are ignored; redelivered
// messages are dropped by a durable mark; strangers are refused or offered pairing; groups need a mention
// (or a reply to the bot, a command addressed to it, a configured pattern, or /activation always).
// A message that passes is queued durably before the adapter may acknowledge it to the platform.

import { conversationKey, qualifiedUserId, type InboundEvent, type InboundFile, type InboundMessage, type InboundPress } from './adapter-types.js';
import type { Access } from './access.js';
import type { ChoiceRegistry } from './choices.js';
import { effectiveLoopId } from './bindings.js';
import { isKnownCommand, parseCommand, runCommand } from './commands.js';
import type { Metrics } from './metrics.js';
import type { Mirrors } from './mirror.js';
import type { Outlet } from './outlet.js';
import type { Sessions } from './sessions.js';
import { keys, type QueuedMessage, type StopRecord, type TurnRecord } from './state.js';
import { whileBusyFor, type WhileBusy, type WhileBusyDefaults } from './while-busy.js';
import type { Store } from '../store/store.js';
import type { LoopClient } from '../loop-api/client.js';
import type { PermissionMode } from '../loop-api/types.js';

export interface RoutingConfig {
  requireMention: boolean;
  mentionPatterns: string[];
  maxQueuedPerLoop: number;
  maxMessageChars: number;
  /** What a plain message does while a turn runs: wait behind it, or steer it (see steering.ts). Default 'queue'. */
  whileBusy?: WhileBusy;
}

export interface IntakeDeps {
  store: Store;
  access: Access;
  sessions: Sessions;
  choices: ChoiceRegistry;
  mirrors: Mirrors;
  client: LoopClient;
  metrics: Metrics;
  routing: RoutingConfig;
  defaultMode: PermissionMode;
  /** How long pairing codes live, ms (only for the message). */
  pairingCodeTtlMs: number;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; debug(obj: object, msg?: string): void };
}

/** What the loop accepts as images (contract §3.5). */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const MAX_IMAGES = 5;
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

export class Intake {
  private readonly patterns: RegExp[];
  /** What plain messages do while busy where a conversation sets nothing: its binding's, else routing's. */
  private readonly whileBusyDefaults: WhileBusyDefaults;

  constructor(private readonly deps: IntakeDeps) {
    this.patterns = deps.routing.mentionPatterns.map((p) => new RegExp(p, 'i'));
    this.whileBusyDefaults = { routing: deps.routing.whileBusy, binding: (ref) => deps.sessions.bindings.resolve(ref)?.whileBusy };
  }

  async accept(outlet: Outlet, event: InboundEvent): Promise<void> {
    if (event.sender.isBot || event.sender.id === outlet.bot.id) return;
    if (event.kind === 'press') {
      // Presses are not queued: answer in the background so the platform gets its ack now.
      void this.press(outlet, event);
      return;
    }
    await this.message(outlet, event);
  }

  private async press(outlet: Outlet, press: InboundPress): Promise<void> {
    const { store, log } = this.deps;
    try {
      if (press.token.endsWith('.stop')) {
        const rec = await store.get<StopRecord>(keys.stop(press.token.split('.')[0]));
        const convKey = conversationKey(press.conversation);
        if (!rec || rec.convKey !== convKey) return outlet.answerPress(press, 'This button is not valid any more.');
        const user = qualifiedUserId(press.conversation.platform, press.sender.id);
        if (!(await this.mayUse(press.conversation.isDirect, press.conversation, user))) return outlet.answerPress(press, 'You are not allowed to do that here.');
        // A Stop stops the turn it was shown with, never whatever happens to run now.
        if (!(await this.deps.sessions.turnRunning(convKey, rec.itemId))) return outlet.answerPress(press, 'That turn has already finished.');
        await this.deps.sessions.withClient(rec.convKey, (c) => c.interrupt(rec.loopId));
        return outlet.answerPress(press, 'Stopping…');
      }
      await this.deps.choices.press(outlet, press);
    } catch (err) {
      log.warn({ err: String(err) }, 'handling a button press failed');
      await outlet.answerPress(press, 'Something went wrong; please try again.').catch(() => {});
    }
  }

  private async message(outlet: Outlet, msg: InboundMessage): Promise<void> {
    const { store, sessions, metrics, routing } = this.deps;
    const conv = msg.conversation;
    const convKey = conversationKey(conv);
    const user = qualifiedUserId(conv.platform, msg.sender.id);
    metrics.inc('inbound_messages_total', { platform: conv.platform });

    // Durable dedupe: a platform redelivery (retry, offset replay, sync replay) is dropped here. The mark is
    // claimed only when we act on the message, right before acting (see `claim`); a message for the loop
    // claims it in the same batch that queues it.
    const seenScope = keys.seenScope(conv.platform, conv.chatId);
    const seenOrder = { order: msg.order };
    const duplicate = () => metrics.inc('inbound_duplicates_total', { platform: conv.platform });
    if (await store.isSeen(seenScope, msg.messageId, seenOrder)) return duplicate();
    const claim = () => store.markSeen(seenScope, msg.messageId, seenOrder);
    // Notices are not part of accepting the message: they must not hold up the platform's acknowledgement.
    const notify = (text: string) => void sessions.notify(outlet, conv, text);
    /** Tells the sender something once (a concurrent delivery of the same message stays silent). */
    const noticeOnce = async (text: string) => {
      if (await claim()) notify(text);
      else duplicate();
      return store.flush();
    };

    const text = this.stripMention(msg.text, outlet.bot.username);
    const command = parseCommand(text);
    if (msg.addressedElsewhere || (command?.target && outlet.bot.username && command.target.toLowerCase() !== outlet.bot.username.toLowerCase())) return;

    if (conv.isDirect) {
      if (!(await this.deps.access.directAllowed(user))) {
        if (await claim()) await this.refuseDirect(outlet, msg, user);
        return store.flush();
      }
    } else {
      const record = await sessions.conversation(conv);
      // A binding's mention settings replace the bridge's for its chats; /activation still overrides both.
      const requireMention = sessions.bindings.resolve(conv)?.requireMention ?? routing.requireMention;
      const addressed =
        msg.mentionsBot ||
        msg.replyToBot ||
        (command !== undefined && isKnownCommand(command.name)) ||
        sessions.bindings.mentionPatterns(conv, this.patterns).some((p) => p.test(msg.text)) ||
        record.activation === 'always' ||
        (record.activation !== 'mention' && !requireMention);
      if (!addressed) return;
      if (!(await this.deps.access.groupAllowed(conversationKey({ platform: conv.platform, chatId: conv.chatId }), user))) {
        if ((await claim()) && (await sessions.firstNotice(`refused/${user}/${convKey}`, 3600_000))) {
          notify(`Sorry ${msg.sender.displayName ?? ''}, you are not allowed to use this bot here. An admin can add \`${user}\` to access.users.`.replace('  ', ' '));
        }
        return store.flush();
      }
    }

    // `/steer <text>`: the text goes into the running turn (a plain message when none runs).
    const steerCommand = command?.name === 'steer';
    // Known commands act at once. An unknown `/cmd@thisbot` is answered too; a plain unknown `/cmd` goes to the
    // loop as text, since agents have slash commands of their own.
    if (command && !steerCommand && (isKnownCommand(command.name) || command.target)) {
      if (!(await claim())) return duplicate(); // a concurrent delivery of the same message got here first
      await store.flush();
      await runCommand(command, {
        outlet,
        message: msg,
        sessions,
        mirrors: this.deps.mirrors,
        client: this.deps.client,
        isAdmin: this.deps.access.isAdmin(user),
        defaultMode: this.deps.defaultMode,
        whileBusy: this.whileBusyDefaults,
      });
      return;
    }

    const body = steerCommand ? command.args : text;
    // A pending choice in this conversation takes typed answers (numbers, allow/deny, free text); an explicit
    // /steer is never an answer.
    if (body && !steerCommand) {
      const typed = await this.deps.choices.typed(outlet, convKey, msg.sender, body, claim);
      if (typed === 'duplicate') return duplicate();
      if (typed === 'answered') return store.flush();
    }

    const { files, refused } = acceptFiles(msg.files);
    const refusedNotice = refused.length
      ? `⚠️ Not sent to the loop: ${refused.join('; ')}. Only images (png, jpeg, gif, webp; up to 10 MB; at most 5 per message) are supported so far.`
      : undefined;
    if (steerCommand && !body && msg.files.length === 0) return noticeOnce('Usage: `/steer <text>` sends the text into the running turn at once (with no turn running it is a plain message).');
    if (!body && files.length === 0) return noticeOnce(refusedNotice ?? 'That message was empty, so nothing was sent to the loop.');
    if (body.length > routing.maxMessageChars) {
      return noticeOnce(`⚠️ That message is ${body.length.toLocaleString('en-US')} characters; the limit is ${routing.maxMessageChars.toLocaleString('en-US')} (routing.maxMessageChars). Nothing was sent — please shorten it or split it.`);
    }
    // The running turn's message stays at the head of the inbox until it ends; it is not "waiting".
    const waiting = (await sessions.queueLength(convKey)) - ((await sessions.turnRunning(convKey)) ? 1 : 0);
    if (waiting >= routing.maxQueuedPerLoop) {
      return noticeOnce(`⏳ ${routing.maxQueuedPerLoop} messages are already waiting here; this one was not queued. Please wait for the replies (or /stop).`);
    }
    const unlinked = await this.missingToken(conv, user);
    if (unlinked) return noticeOnce(unlinked);

    const steer = await this.steers(msg, steerCommand);
    const item: QueuedMessage = {
      id: idempotencyKey(conv.platform, conv.chatId, msg.messageId),
      convKey,
      conversation: conv,
      sender: msg.sender,
      text: body,
      files,
      messageId: msg.messageId,
      acceptedAt: Date.now(),
      ...(steer ? { steer: true as const } : {}),
      ...(msg.chatTitle ? { chatTitle: msg.chatTitle } : {}),
    };
    // The dedupe mark, the conversation and the queued message commit together (one batch): a crash can
    // never keep the mark and lose the message, and of two concurrent deliveries exactly one is queued.
    const claimed = { op: 'markSeen', scope: seenScope, id: msg.messageId, order: msg.order } as const;
    if (!(await sessions.accept(item, claimed))) return duplicate();
    await store.flush();
    metrics.inc('inbound_accepted_total', { platform: conv.platform });
    if (refusedNotice) notify(refusedNotice);
    // A steer is acknowledged once the loop server holds it (steering.ts).
    if (!steer) {
      // Exact: the messages before this one in the conversation's FIFO (the running or starting turn's included),
      // read after the enqueue, so concurrent accepts and a turn starting meanwhile cannot skew it.
      const ahead = (await store.items<QueuedMessage>(keys.inbox(convKey))).findIndex((q) => q.id === item.id);
      if (ahead > 0) notify(`📥 Queued (${ahead} ahead) — it goes to the loop when the current turn ends.`);
    }
    sessions.wake(convKey);
  }

  /**
   * Whether a message goes into its conversation's running turn rather than behind it: `/steer`, a reply to
   * that turn's live message, or `whileBusy: steer`. With no turn running every message is a plain one.
   */
  private async steers(msg: InboundMessage, steerCommand: boolean): Promise<boolean> {
    const convKey = conversationKey(msg.conversation);
    // With replicas the turn may run on another replica: the steer queue is shared, and the NOTIFY that
    // comes with the accept pokes that replica's running turn.
    if (!(await this.deps.sessions.turnRunning(convKey))) return false;
    if (steerCommand) return true;
    if (msg.replyToMessageId !== undefined) {
      const turn = await this.deps.store.get<TurnRecord>(keys.turn(convKey));
      const here = this.deps.sessions.running.get(convKey);
      if (turn && (!here || turn.itemId === here.itemId) && turn.chunks.some((c) => c.ref.messageId === msg.replyToMessageId)) return true;
    }
    return whileBusyFor(await this.deps.sessions.conversation(msg.conversation), this.whileBusyDefaults).value === 'steer';
  }

  /**
   * access.loopTokens per-user: why this message cannot go to a loop, when the person whose token it needs
   * has none linked — the loop's owner, or (no loop yet) whoever's message will create it. A token that is
   * linked but refused does not stop it: the message waits, parked, until they link a new one.
   */
  private async missingToken(conv: InboundMessage['conversation'], user: string): Promise<string | undefined> {
    const { sessions } = this.deps;
    const vault = sessions.clients.vault;
    if (!vault) return undefined;
    const record = await sessions.conversation(conv);
    const binding = sessions.bindings.resolve(conv);
    let needs: string | undefined; // undefined: the shared token
    if (effectiveLoopId(record, binding)) {
      needs = sessions.driverOf(record, binding);
    } else {
      const first = await this.deps.store.peek<QueuedMessage>(keys.inbox(record.key));
      needs = first ? qualifiedUserId(first.conversation.platform, first.sender.id) : user;
    }
    if (needs === undefined || (await vault.linked(needs))) return undefined;
    const how = 'create a token on the loop server (Settings → API tokens) and send it to me in a direct chat: /link la_…';
    if (needs === user) return `🔑 Loops here are created with your own Loop API token, and you have none linked yet: ${how}. Nothing was sent; please send your message again after linking.`;
    return `🔑 This conversation's loop runs with ${needs}'s Loop API token, and none is linked now. Nothing was sent: ${needs} can link one (${how}), or send /new to start a loop of your own.`;
  }

  private async mayUse(isDirect: boolean, conv: InboundMessage['conversation'], user: string): Promise<boolean> {
    return isDirect ? this.deps.access.directAllowed(user) : this.deps.access.groupAllowed(conversationKey({ platform: conv.platform, chatId: conv.chatId }), user);
  }

  private async refuseDirect(outlet: Outlet, msg: InboundMessage, user: string): Promise<void> {
    const { access, sessions, log } = this.deps;
    if (access.dmPolicy === 'pairing' && !(await access.pairingDenied(user))) {
      const code = await access.pairingCode(user, msg.sender.displayName, msg.conversation);
      // The code is a credential until it is used: it goes to the person, never to the log.
      log.info({ user }, 'pairing requested; `loopbridge pairing list` shows the code');
      if (await sessions.firstNotice(`pair/${user}/${code}`, 3600_000)) {
        void sessions.notify(outlet, msg.conversation, `🔑 This bot is private. Your pairing code is **${code}** (valid ${formatDuration(this.deps.pairingCodeTtlMs)}). Ask the operator to run:\n\`loopbridge pairing approve ${code}\``);
      }
    } else if (await sessions.firstNotice(`refused/${user}`, 3600_000)) {
      void sessions.notify(outlet, msg.conversation, `Sorry, this bot is private. An admin can allow you by adding \`${user}\` to access.users.`);
    }
  }

  private stripMention(text: string, username?: string): string {
    let t = text.trim();
    if (username) t = t.replace(new RegExp(`(^|\\s)@${username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b[:,]?`, 'gi'), ' ').trim();
    return t;
  }
}

function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes >= 120 && minutes % 60 === 0) return `${minutes / 60} hours`;
  if (minutes === 60) return '1 hour';
  return `${minutes} minutes`;
}

/** The platform message id is stable across redelivery and restarts, so the server dedupes retries too. */
export function idempotencyKey(platform: string, chatId: string, messageId: string): string {
  return `lb:${platform}:${chatId}:${messageId}`.slice(0, 256);
}

function acceptFiles(files: InboundFile[]): { files: InboundFile[]; refused: string[] } {
  const ok: InboundFile[] = [];
  const refused: string[] = [];
  for (const f of files) {
    const name = f.filename ?? f.mimeType;
    if (!IMAGE_TYPES.has(f.mimeType)) refused.push(`${name} (${f.mimeType} is not supported yet)`);
    else if (f.size !== undefined && f.size > MAX_IMAGE_BYTES) refused.push(`${name} (larger than 10 MB)`);
    else if (ok.length >= MAX_IMAGES) refused.push(`${name} (more than 5 images)`);
    else ok.push(f);
  }
  return { files: ok, refused };
}
