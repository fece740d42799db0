// /link and /unlink (access.loopTokens per-user): a person links their own Loop API token in a direct chat.
// The message carrying it is deleted where the platform lets the bot, the token is checked with the loop
// server, then kept encrypted (token-vault.ts); it is never echoed, logged or queued for a loop.

import { LoopAuthError, LoopPermissionError } from '../loop-api/errors.js';
import { qualifiedUserId } from './adapter-types.js';
import type { CommandContext } from './commands.js';

/** What a Loop API token looks like (contract §1): `la_` + 48 lowercase hex. */
const TOKEN_RE = /^la_[0-9a-f]{48}$/;

type Reply = (text: string) => Promise<void>;

export async function runLink(args: string, ctx: CommandContext, reply: Reply): Promise<void> {
  const { outlet, message, sessions } = ctx;
  const conversation = message.conversation;
  // Whatever was sent may be a secret: take it off the chat first, whatever happens next.
  const deleted = args ? await outlet.delete({ conversation, messageId: message.messageId }).then(() => true, () => false) : true;
  const deleteItYourself = deleted ? '' : ' I could not delete your message here: please delete it yourself.';
  if (!sessions.clients.perUser) {
    return reply(`This bridge drives every loop with its own shared token, so there is nothing to link.${deleteItYourself}`);
  }
  if (!conversation.isDirect) {
    return reply(
      args
        ? `⚠️ A loop token must never be posted where others can read it: revoke that one on the loop server (Settings → API tokens) and link a new one in a direct chat with me (/link la_…).${deleteItYourself}`
        : 'Link your loop token in a direct chat with me: /link la_…',
    );
  }
  const token = args.trim();
  if (!token) return reply('Usage: /link la_… — create a token on the loop server (Settings → API tokens) and send it here. I delete the message and keep the token encrypted; loops you start then belong to you.');
  if (!TOKEN_RE.test(token)) return reply(`That is not a Loop API token (la_ followed by 48 lowercase hex characters); nothing was linked.${deleteItYourself}`);
  const user = qualifiedUserId(conversation.platform, message.sender.id);
  try {
    await sessions.clients.verify(token);
  } catch (err) {
    const refused = err instanceof LoopAuthError || err instanceof LoopPermissionError;
    return reply(
      refused
        ? `The loop server refused that token (${err.serverCode ?? err.code}); nothing was linked. Check it on the loop server's Settings page.${deleteItYourself}`
        : `I could not reach the loop server to check that token; nothing was linked. Please try again in a moment.${deleteItYourself}`,
    );
  }
  await sessions.clients.vault!.link(user, token);
  const resumed = await sessions.tokenLinked(user);
  const waiting = resumed ? ` ${resumed === 1 ? 'One conversation' : `${resumed} conversations`} waiting for your token go on now.` : '';
  return reply(
    `🔗 Linked. Loops you start are now created and driven with your own token, so the loop server shows you as their owner.${waiting}${deleted ? ' Your message with the token was deleted.' : deleteItYourself}`,
  );
}

export async function runUnlink(ctx: CommandContext, reply: Reply): Promise<void> {
  const { message, sessions } = ctx;
  if (!sessions.clients.perUser) return reply('This bridge drives every loop with its own shared token; there is no token of yours to unlink.');
  const user = qualifiedUserId(message.conversation.platform, message.sender.id);
  const had = await sessions.clients.vault!.unlink(user);
  return reply(
    had
      ? '🔓 Unlinked: your token is gone from this bridge. Loops you started wait until you /link again (or someone sends /new there). To be sure it is unusable, revoke it on the loop server too.'
      : 'No loop token of yours is linked.',
  );
}
