// Chat commands. They act at once (they are not queued behind a running turn) and always answer.

import type { LoopClient } from '../loop-api/client.js';
import { LoopApiError } from '../loop-api/errors.js';
import { PERMISSION_MODES, type PermissionMode } from '../loop-api/types.js';
import type { InboundMessage } from './adapter-types.js';
import { qualifiedUserId } from './adapter-types.js';
import { describeBinding, effectiveLoopId } from './bindings.js';
import { UserTokenError } from './loop-clients.js';
import type { Outlet } from './outlet.js';
import type { Sessions } from './sessions.js';
import type { Mirrors } from './mirror.js';
import { choosableModes, mayChooseMode } from './mode-policy.js';
import { whileBusyFor, type WhileBusy, type WhileBusyDefaults } from './while-busy.js';
import { runLink, runUnlink } from './link-commands.js';

export const COMMANDS: Record<string, string> = {
  help: 'show this help',
  new: 'start a fresh loop for this conversation',
  stop: 'interrupt the running turn',
  steer: 'send text into the running turn now: /steer <text> (or reply to the live message)',
  status: 'loop id, busy, queue length, mode, binding, owner',
  mode: 'permission mode for this conversation: /mode <default|acceptEdits|bypassPermissions|plan|dontAsk|auto>',
  attach: 'admins: bind this conversation to an existing loop and mirror its turns: /attach <loop_id>',
  detach: 'admins: unbind the loop (the next message starts a new one)',
  activation: 'groups, admins only: /activation always|mention',
  whilebusy: 'what a message does while a turn runs here: /whilebusy queue|steer|default',
  link: 'direct chats, with per-user loop tokens: /link la_… links your own Loop API token (the message is deleted)',
  unlink: 'forget your linked Loop API token',
};

export interface ParsedCommand {
  name: string;
  args: string;
  /** `/cmd@somebot`: the bot named, if any. */
  target?: string;
}

/** Parses `/name[@bot] args`; undefined if the text is not a command. */
export function parseCommand(text: string): ParsedCommand | undefined {
  const m = /^\/([A-Za-z][A-Za-z0-9_]*)(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return { name: m[1].toLowerCase(), target: m[2], args: (m[3] ?? '').trim() };
}

export function isKnownCommand(name: string): boolean {
  return name in COMMANDS || name === 'start';
}

export interface CommandContext {
  outlet: Outlet;
  message: InboundMessage;
  sessions: Sessions;
  mirrors: Mirrors;
  /** The bridge's shared client (a conversation's own is `sessions.withClient`). */
  client: LoopClient;
  isAdmin: boolean;
  /** The configured default mode (`loop.permissionMode`): the loosest a non-admin may choose, in their own DM. */
  defaultMode: PermissionMode;
  /** What applies where the conversation sets no /whilebusy (binding, else `routing.whileBusy`). Default queue. */
  whileBusy?: WhileBusyDefaults;
}

const list = (modes: readonly string[]) => modes.map((m) => `\`${m}\``).join(', ');

export async function runCommand(cmd: ParsedCommand, ctx: CommandContext): Promise<void> {
  const { outlet, message, sessions } = ctx;
  const reply = (text: string) => sessions.notify(outlet, message.conversation, text);
  const conv = await sessions.conversation(message.conversation);
  const binding = sessions.bindings.resolve(message.conversation);
  // A binding's permission mode is the default here (what /mode offers and /status shows).
  ctx = binding?.permissionMode ? { ...ctx, defaultMode: binding.permissionMode } : ctx;
  /** Set when a binding sends every message here to one configured loop (and no operator moved it). */
  const configuredLoop = binding?.loopId && conv.boundBy !== 'operator' ? binding.loopId : undefined;
  const refuseConfigured = () =>
    reply(`🔒 This chat is bound to loop \`${configuredLoop}\` by the bridge's configuration (${binding!.path}), so /${cmd.name} is not available here. An operator can move it: \`loopbridge conversations bind ${conv.key} <loop_id>\`.`);
  const loopOf = () => effectiveLoopId(conv, binding);
  try {
    switch (cmd.name) {
      case 'start':
      case 'help':
        return reply(['**loopbridge** — each conversation talks to one loop.', ...Object.entries(COMMANDS).map(([n, d]) => `/${n} — ${d}`)].join('\n'));
      case 'new': {
        if (configuredLoop) return refuseConfigured();
        const old = conv.loopId;
        conv.loopId = undefined;
        conv.blocked = undefined;
        conv.mirror = false;
        delete conv.boundBy;
        delete conv.tokenOwner;
        delete conv.startedBy;
        await sessions.saveConversation(conv);
        ctx.mirrors.stop(conv.key);
        sessions.wake(conv.key);
        return reply(old ? `🆕 Fresh start: your next message starts a new loop (the previous one, \`${old}\`, is kept).` : '🆕 Your next message starts a new loop.');
      }
      case 'stop': {
        const running = sessions.running.get(conv.key);
        const loopId = running?.loopId ?? loopOf();
        if (!loopId) return reply('Nothing is running.');
        await sessions.withClient(conv.key, (c) => c.interrupt(loopId));
        return reply(running ? '⏹ Stopping the running turn…' : 'Sent a stop to the loop.');
      }
      case 'status': {
        const queued = await sessions.queueLength(conv.key);
        const mode = conv.permissionMode ?? ctx.defaultMode;
        const loopId = loopOf();
        const lines: string[] = [];
        if (!loopId) {
          lines.push(`No loop yet (one is created with your next message). Mode: \`${mode}\`. Queued: ${queued}.`);
        } else {
          lines.push(...(await loopLines(loopId)), `Queued here: ${queued}`, `Mode: \`${mode}\``);
        }
        lines.push(`Binding: ${describeBinding(binding)}`);
        if (loopId) lines.push(ownerLine());
        if (sessions.clients.perUser && message.conversation.isDirect) lines.push(await linkLine());
        if (conv.blocked) lines.push(`⚠️ Blocked: ${conv.blocked.reason}${conv.blocked.user ? ` (${conv.blocked.user})` : ''} — ${conv.blocked.user ? `${conv.blocked.user} must /link a token in a direct chat with me` : configuredLoop ? 'an operator must bind this chat to another loop' : 'send /new or /attach <loop_id>'}.`);
        if (conv.mirror || binding?.mirror) lines.push('Mirroring turns from other clients.');
        return reply(lines.join('\n'));
      }
      case 'mode': {
        const who = { isAdmin: ctx.isAdmin, isDirect: message.conversation.isDirect };
        const allowed = choosableModes(who, ctx.defaultMode);
        const offer = allowed.length ? ` Choose one of: ${list(allowed)}.` : '';
        if (!cmd.args) return reply(`Mode: \`${conv.permissionMode ?? ctx.defaultMode}\`.${offer || ' Only admins change it here.'}`);
        const mode = PERMISSION_MODES.find((m) => m.toLowerCase() === cmd.args.toLowerCase());
        if (!mode) return reply(`Unknown mode \`${cmd.args}\`.${offer || ` Modes: ${list(PERMISSION_MODES)}.`}`);
        if (!mayChooseMode(who, mode, ctx.defaultMode)) {
          const why = who.isDirect
            ? `it lets the loop do more without asking than this bridge's default (\`${ctx.defaultMode}\`)`
            : 'the mode is shared by everyone in this chat';
          return reply(`🔒 Only an admin can set \`${mode}\` here: ${why}.${offer}`);
        }
        conv.permissionMode = mode;
        await sessions.saveConversation(conv);
        return reply(`Mode set to \`${mode}\` for this conversation.`);
      }
      case 'attach': {
        if (!ctx.isAdmin) return reply('🔒 Only admins can attach a conversation to a loop: it lets everyone here read and drive that loop.');
        if (configuredLoop) return refuseConfigured();
        const [id, confirm] = cmd.args.split(/\s+/);
        if (!id) return reply('Usage: /attach <loop_id>');
        const loop = await sessions.withClient(conv.key, (c) => c.getLoop(id));
        if (loop.archived) return reply(`Loop \`${loop.id}\` is archived; it cannot take messages.`);
        const others = await sessions.conversationsBoundTo(loop.id, conv.key);
        if (others.length && confirm !== 'shared') {
          return reply(
            `⚠️ Loop \`${loop.id}\` is already bound to ${others.length === 1 ? 'another conversation' : `${others.length} other conversations`} (${others.map((k) => `\`${k}\``).join(', ')}). ` +
              `Attaching shares it: messages from both go to the same loop, and each sees the other's turns. To do it anyway: /attach ${loop.id} shared`,
          );
        }
        conv.loopId = loop.id;
        conv.blocked = undefined;
        conv.mirror = true;
        conv.mirrorOwner = message.sender;
        await sessions.saveConversation(conv);
        ctx.mirrors.start(outlet, conv, message.sender);
        sessions.wake(conv.key);
        const shared = others.length ? ` Shared with ${others.map((k) => `\`${k}\``).join(', ')}.` : '';
        return reply(`🔗 Attached to \`${loop.id}\` — ${loop.title}. Turns run from elsewhere will show here too.${shared}`);
      }
      case 'detach': {
        if (!ctx.isAdmin) return reply('🔒 Only admins can detach this conversation from its loop.');
        if (configuredLoop) return refuseConfigured();
        if (!conv.loopId) return reply('Not attached to any loop.');
        const old = conv.loopId;
        conv.loopId = undefined;
        conv.mirror = false;
        delete conv.boundBy;
        delete conv.tokenOwner;
        await sessions.saveConversation(conv);
        ctx.mirrors.stop(conv.key);
        return reply(`Detached from \`${old}\`. Your next message starts a new loop.`);
      }
      case 'activation': {
        if (message.conversation.isDirect) return reply('Activation applies to groups only; direct chats always answer.');
        if (!ctx.isAdmin) return reply('Only admins can change activation.');
        if (cmd.args !== 'always' && cmd.args !== 'mention') return reply('Usage: /activation always|mention');
        conv.activation = cmd.args;
        await sessions.saveConversation(conv);
        return reply(cmd.args === 'always' ? 'I will answer every message here.' : 'I will answer only when mentioned or replied to.');
      }
      case 'steer':
        // Intake sends /steer's text into the running turn; it only gets here without one to send.
        return reply('Usage: `/steer <text>` sends the text into the running turn at once (with no turn running it is a plain message).');
      case 'whilebusy': {
        const defaults = ctx.whileBusy ?? {};
        const from = { conversation: '', binding: ' (this binding\'s)', routing: ' (the default)' };
        const now = whileBusyFor(conv, defaults);
        const explain = (w: WhileBusy) =>
          w === 'steer' ? 'messages sent while a turn runs go into that turn' : 'messages sent while a turn runs wait for it to end';
        if (!cmd.args) return reply(`While busy: \`${now.value}\`${from[now.from]} — ${explain(now.value)}. /steer <text> always steers; change it with /whilebusy queue|steer|default.`);
        // In a group the choice is everyone's; in a direct chat it only changes how the person's own messages go.
        if (!message.conversation.isDirect && !ctx.isAdmin) return reply('Only admins can change what messages do while a turn runs here.');
        const arg = cmd.args.toLowerCase();
        if (arg !== 'queue' && arg !== 'steer' && arg !== 'default') return reply('Usage: /whilebusy queue|steer|default');
        conv.whileBusy = arg === 'default' ? undefined : arg;
        await sessions.saveConversation(conv);
        const after = whileBusyFor(conv, defaults);
        return reply(`While busy: \`${after.value}\`${from[after.from]} — ${explain(after.value)}.`);
      }
      case 'link':
        return runLink(cmd.args, ctx, reply);
      case 'unlink':
        return runUnlink(ctx, reply);
      default:
        return reply(`Unknown command /${cmd.name}. Send /help for the list.`);
    }
  } catch (err) {
    const what = err instanceof UserTokenError ? tokenProblem(err) : err instanceof LoopApiError ? `${err.code}: ${err.message}` : String(err);
    return reply(`⚠️ /${cmd.name} failed — ${what}`);
  }

  /** The loop as the server sees it; without a usable token, what /status knows locally. */
  async function loopLines(loopId: string): Promise<string[]> {
    try {
      const loop = await sessions.withClient(conv.key, (c) => c.getLoop(loopId));
      return [`Loop: \`${loop.id}\` — ${loop.title}`, `Busy: ${loop.busy ? 'yes' : 'no'}${loop.archived ? ' (archived)' : ''}`];
    } catch (err) {
      if (!(err instanceof UserTokenError)) throw err;
      return [`Loop: \`${loopId}\` (${tokenProblem(err)})`, `Busy: ${sessions.running.has(conv.key) ? 'yes' : 'no'}`];
    }
  }

  /** Who started the loop, and (per-user tokens) whose token it runs with. */
  function ownerLine(): string {
    const starter = conv.startedBy ? `${conv.startedBy.name ?? conv.startedBy.user} (${conv.startedBy.user})` : undefined;
    const driver = sessions.driverOf(conv, binding);
    if (!sessions.clients.perUser) return `Started by: ${starter ?? 'unknown (not by a message here)'}`;
    if (!driver) return `Loop owner: this bridge (its shared loop token)${configuredLoop ? `, as ${binding!.path} says` : ''}`;
    const name = conv.startedBy?.user === driver ? (conv.startedBy.name ?? driver) : driver;
    return `Loop owner: ${name} (${driver}) — it runs with their own loop token${message.conversation.isDirect ? '' : ', for everyone here'}`;
  }

  async function linkLine(): Promise<string> {
    const linked = await sessions.clients.vault?.linked(qualifiedUserId(message.conversation.platform, message.sender.id));
    if (!linked) return 'Your loop token: not linked — send /link la_… (from the loop server\'s Settings page) to link it.';
    const since = new Date(linked.linkedAt).toISOString().slice(0, 16).replace('T', ' ');
    return `Your loop token: linked since ${since} UTC${linked.refusedAt === linked.linkedAt ? ' — ⚠️ the loop server refused it: /link a new one' : ''}`;
  }
}

function tokenProblem(err: UserTokenError): string {
  return err.code === 'token_missing' ? `${err.user} has no loop token linked` : `the loop server refused ${err.user}'s loop token`;
}
