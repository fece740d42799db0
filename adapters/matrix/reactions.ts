// Matrix has no buttons: a choice message's buttons become reactions. The bot seeds one reaction per
// button (✅/❌, 1️⃣…🔟) so a person answers with one click; a person's reaction on that message is handed
// to the core as a press carrying the button's opaque token. The mapping (message → key → token) is kept
// in the adapter's durable state, so a choice still answers after a restart; it is dropped once the core
// edits the buttons away (the choice was answered or expired).
import type { AdapterState, Button, ConversationRef } from '../../src/core/adapter-types.js';
import { conversationKey } from '../../src/core/adapter-types.js';

/** How long a choice message keeps answering to reactions, ms (the loop times choices out long before). */
const MAPPING_TTL_MS = 7 * 24 * 3600_000;

/** What one choice message's reactions mean. */
interface ReactionMap {
  conversation: ConversationRef;
  /** Normalised reaction key → core token. */
  tokens: Record<string, string>;
  /** Keys the bot has already reacted with (as sent). */
  seeded: string[];
}

/** Reaction keys compare without emoji variation selectors: clients send both ✅ and ✅️, 1⃣ and 1️⃣. */
export function normaliseKey(key: string): string {
  return key.replace(/\uFE0F/g, '');
}

/** The keyed buttons of a message, in order. */
export function keyedButtons(buttons: Button[][] | undefined): Array<{ key: string; token: string }> {
  return (buttons ?? []).flat().flatMap((b) => (b.key ? [{ key: b.key, token: b.token }] : []));
}

export class ChoiceReactions {
  constructor(private readonly state: AdapterState) {}

  /**
   * Records what the reactions on `eventId` mean now; returns the keys the bot still has to react with.
   * Without keyed buttons the mapping is dropped (nothing to answer any more).
   */
  async update(conversation: ConversationRef, eventId: string, buttons: Button[][] | undefined): Promise<string[]> {
    const keyed = keyedButtons(buttons);
    const existing = await this.state.get<ReactionMap>(`rx/${eventId}`);
    const pendingKey = `pending/${conversationKey(conversation)}`;
    if (keyed.length === 0) {
      if (existing) {
        await this.state.delete(`rx/${eventId}`);
        if ((await this.state.get<string>(pendingKey)) === eventId) await this.state.delete(pendingKey);
      }
      return [];
    }
    const seeded = existing?.seeded ?? [];
    const missing = keyed.map((k) => k.key).filter((k) => !seeded.includes(k));
    const map: ReactionMap = { conversation, tokens: Object.fromEntries(keyed.map((k) => [normaliseKey(k.key), k.token])), seeded };
    await this.state.set(`rx/${eventId}`, map, { ttlMs: MAPPING_TTL_MS });
    await this.state.set(pendingKey, eventId, { ttlMs: MAPPING_TTL_MS });
    return missing;
  }

  /** The bot reacted with `key` on `eventId`. */
  async seeded(eventId: string, key: string): Promise<void> {
    const map = await this.state.get<ReactionMap>(`rx/${eventId}`);
    if (!map || map.seeded.includes(key)) return;
    map.seeded.push(key);
    await this.state.set(`rx/${eventId}`, map, { ttlMs: MAPPING_TTL_MS });
  }

  /** The token and conversation a reaction `key` on `eventId` stands for, if any. */
  async lookup(eventId: string, key: string): Promise<{ token: string; conversation: ConversationRef } | undefined> {
    const map = await this.state.get<ReactionMap>(`rx/${eventId}`);
    const token = map?.tokens[normaliseKey(key)];
    return map && token ? { token, conversation: map.conversation } : undefined;
  }

  /** Is a choice waiting for an answer in this conversation (so `!allow`, `!2` are addressed to the bot)? */
  async pending(conversation: ConversationRef): Promise<boolean> {
    return (await this.state.get(`pending/${conversationKey(conversation)}`)) !== undefined;
  }

  /** Marks a reaction event handled; false if it already was (a replayed sync). */
  claim(reactionEventId: string): Promise<boolean> {
    return this.state.setIfAbsent(`rxseen/${reactionEventId}`, 1, { ttlMs: MAPPING_TTL_MS });
  }

  /** Undoes a claim whose press the core did not take. */
  unclaim(reactionEventId: string): Promise<void> {
    return this.state.delete(`rxseen/${reactionEventId}`);
  }
}
