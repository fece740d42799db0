// Entities the real server computes itself for text a user types: @username mentions and /commands.
// Offsets and lengths are UTF-16 code units, as in the Bot API (JS string indices already are).
import type { Entity } from './html-entities.js';

const COMMAND = /(?<![\p{L}\p{N}_/@])\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\p{L}\p{N}_@/])/gu;
const MENTION = /(?<![\p{L}\p{N}_@/])@[A-Za-z0-9_]{5,32}(?![\p{L}\p{N}_])/gu;

export function autoEntities(text: string): Entity[] {
  const found: Entity[] = [];
  for (const m of text.matchAll(COMMAND)) found.push({ type: 'bot_command', offset: m.index, length: m[0].length });
  for (const m of text.matchAll(MENTION)) {
    const inside = found.some((e) => m.index >= e.offset && m.index < e.offset + e.length);
    if (!inside) found.push({ type: 'mention', offset: m.index, length: m[0].length });
  }
  return found.sort((a, b) => a.offset - b.offset);
}
