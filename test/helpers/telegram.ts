// Telegram test helpers: what a user sees of a markdown reply (the visible text of the HTML the adapter
// sends, as the Bot API and so the fake stores it), and the people the tests talk as.

import { markdownToTelegramHtml } from '../../adapters/telegram/format.js';

export function telegramVisible(markdown: string): string {
  return markdownToTelegramHtml(markdown)
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .trim();
}

/** The allowed person of the Telegram tests, and her private chat with the bot. */
export const ann = { id: 4242, first_name: 'Ann', username: 'ann' };
export const annDm = { id: 4242, type: 'private' as const, first_name: 'Ann' };
