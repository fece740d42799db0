// Conversation bindings: the configured rules that say, per chat (and thread), how loops are made there or
// which existing loop every message goes to, plus per-chat routing (mention gate, mirror, while-busy).
// The first rule that matches a conversation applies. Pure: the rules come from the config at start, and
// whatever a conversation's record says (an operator's bind) is combined with them here, never cached.

import type { PermissionMode } from '../loop-api/types.js';
import type { ConversationRef, Sender } from './adapter-types.js';
import type { ConversationRecord } from './state.js';
import type { WhileBusy } from './while-busy.js';

/** One `bindings:` entry as the core reads it (the config's `BindingConfig`, validated there). */
export interface BindingRule {
  /** Platform matched exactly. */
  platform: string;
  /** Chat id matched exactly, or `/regex/flags` tested on the chat id. */
  chat: string;
  /** Thread id or `/regex/flags`; absent = any thread and the main chat. */
  thread?: string;
  /** Title template for new loops ({platform}, {chat}, {sender}, {message}). Default: the first message. */
  title?: string;
  /** Repository new loops are created with. Default none. */
  repo?: string;
  /** Profiles new loops are created with. Default none. */
  profiles?: string[];
  /** Vault new loops use. Default the server's. */
  vault?: string;
  /** Permission mode sent with every message (a conversation's /mode override wins). Default: the bridge's. */
  permissionMode?: PermissionMode;
  /** Metadata for new loops, under the bridge's own keys. Default none. */
  metadata?: Record<string, unknown>;
  /** Every message goes to this existing loop. Default none. */
  loopId?: string;
  /** Overrides the bridge's requireMention here. */
  requireMention?: boolean;
  /** Replaces the bridge's mention patterns here (regex sources, case-insensitive). */
  mentionPatterns?: string[];
  /** Show turns other clients run on the loop. Default false. */
  mirror?: boolean;
  /** What a plain message does while a turn runs here (a conversation's /whilebusy wins). Default: routing's. */
  whileBusy?: WhileBusy;
}

/** The rule that applies to a conversation, with where it stands in the config. */
export interface ResolvedBinding extends BindingRule {
  /** Position in `bindings:` (0-based). */
  index: number;
  /** `bindings[i]`, the key path operators see in check-config, /status and `conversations list`. */
  path: string;
}

/** Title placeholders' longest first-message excerpt, chars (the server caps a title at 200). */
const MESSAGE_EXCERPT = 80;
const TITLE_MAX = 200;

/** A compiled `chat`/`thread` matcher. */
function matcher(spec: string): (value: string) => boolean {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(spec);
  if (!m) return (value) => value === spec;
  const re = new RegExp(m[1], m[2].replace('g', '').replace('y', ''));
  return (value) => re.test(value);
}

interface Compiled {
  rule: ResolvedBinding;
  chat: (v: string) => boolean;
  thread?: (v: string) => boolean;
  patterns?: RegExp[];
}

export class Bindings {
  private readonly compiled: Compiled[];

  constructor(rules: readonly BindingRule[] = []) {
    this.compiled = rules.map((rule, index) => ({
      rule: { ...rule, index, path: `bindings[${index}]` },
      chat: matcher(rule.chat),
      thread: rule.thread === undefined ? undefined : matcher(rule.thread),
      patterns: rule.mentionPatterns?.map((p) => new RegExp(p, 'i')),
    }));
  }

  /** How many rules there are. */
  get size(): number {
    return this.compiled.length;
  }

  /**
   * The rule that applies to a conversation (the first that matches), or undefined. A rule with a `thread`
   * matches only threads it names; one without matches the chat and every thread in it.
   */
  resolve(ref: Pick<ConversationRef, 'platform' | 'chatId' | 'threadId'>): ResolvedBinding | undefined {
    return this.find(ref)?.rule;
  }

  /** The mention patterns that apply in a conversation: the binding's, else `fallback`. */
  mentionPatterns(ref: Pick<ConversationRef, 'platform' | 'chatId' | 'threadId'>, fallback: RegExp[]): RegExp[] {
    return this.find(ref)?.patterns ?? fallback;
  }

  private find(ref: Pick<ConversationRef, 'platform' | 'chatId' | 'threadId'>): Compiled | undefined {
    return this.compiled.find((c) => {
      if (c.rule.platform !== ref.platform || !c.chat(ref.chatId)) return false;
      if (!c.thread) return true;
      return ref.threadId !== undefined && c.thread(ref.threadId);
    });
  }
}

/**
 * The loop a conversation's messages go to now: an operator's `conversations bind` wins, then a binding's
 * `loopId`, then the loop the conversation has (created by the bridge, or /attach). Undefined: the next
 * message creates one.
 */
export function effectiveLoopId(conv: Pick<ConversationRecord, 'loopId' | 'boundBy'>, binding: ResolvedBinding | undefined): string | undefined {
  if (conv.boundBy === 'operator' && conv.loopId) return conv.loopId;
  return binding?.loopId ?? conv.loopId;
}

/**
 * Whose personal token drives a conversation's loop (access.loopTokens per-user): the person who created it.
 * A binding's configured loop is the bridge's, driven with the shared token, whoever writes. Undefined = the
 * shared token (always so in shared mode).
 */
export function loopDriver(conv: Pick<ConversationRecord, 'boundBy' | 'tokenOwner'>, binding: ResolvedBinding | undefined, perUser: boolean): string | undefined {
  if (!perUser) return undefined;
  const configured = binding?.loopId !== undefined && conv.boundBy !== 'operator';
  return configured ? undefined : conv.tokenOwner;
}

/** What a new loop is created with: the binding's template and parameters, the bridge's own metadata. */
export interface LoopCreation {
  title: string;
  metadata: Record<string, unknown>;
  repo?: string;
  profiles?: string[];
  vault?: string;
}

/** The title and parameters for a conversation's new loop, from its first message. */
export function loopCreation(
  binding: ResolvedBinding | undefined,
  conv: { key: string; ref: ConversationRef },
  first: { text: string; sender: Sender; chatTitle?: string },
  starter: string,
): LoopCreation {
  const excerpt = first.text.replace(/\s+/g, ' ').trim().slice(0, MESSAGE_EXCERPT);
  const values: Record<string, string> = {
    platform: conv.ref.platform,
    chat: first.chatTitle ?? conv.ref.chatId,
    sender: first.sender.displayName ?? first.sender.id,
    message: excerpt,
  };
  const rendered = binding?.title ? binding.title.replace(/\{(platform|chat|sender|message)\}/g, (_, k: string) => values[k]) : excerpt;
  const title = rendered.replace(/\s+/g, ' ').trim().slice(0, TITLE_MAX) || 'Chat';
  const own: Record<string, unknown> = {
    bridge: 'loopbridge',
    platform: conv.ref.platform,
    conversation: conv.key,
    chat_id: conv.ref.chatId,
    ...(conv.ref.threadId ? { thread_id: conv.ref.threadId } : {}),
    user: starter,
  };
  return {
    title,
    metadata: { ...(binding?.metadata ?? {}), ...own },
    ...(binding?.repo ? { repo: binding.repo } : {}),
    ...(binding?.profiles?.length ? { profiles: [...binding.profiles] } : {}),
    ...(binding?.vault ? { vault: binding.vault } : {}),
  };
}

/** One line for /status and `conversations show`: which rule applies and what it sets. */
export function describeBinding(b: ResolvedBinding | undefined): string {
  if (!b) return 'none (the bridge defaults)';
  const match = `${b.platform} chat ${b.chat}${b.thread !== undefined ? ` thread ${b.thread}` : ''}`;
  const sets: string[] = [];
  if (b.loopId) sets.push(`loop ${b.loopId}`);
  if (b.repo) sets.push(`repo ${b.repo}`);
  if (b.permissionMode) sets.push(`mode ${b.permissionMode}`);
  if (b.profiles?.length) sets.push(`profiles ${b.profiles.join(', ')}`);
  if (b.vault) sets.push(`vault ${b.vault}`);
  if (b.requireMention !== undefined) sets.push(b.requireMention ? 'mention needed' : 'no mention needed');
  if (b.mirror) sets.push('mirrors other clients');
  if (b.whileBusy) sets.push(`while busy: ${b.whileBusy}`);
  return `${b.path} (${match})${sets.length ? `: ${sets.join(', ')}` : ''}`;
}
