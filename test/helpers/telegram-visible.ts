// What a Telegram user sees of a markdown reply: the visible text of the HTML the adapter sends, as the
// Bot API (and so the fake) stores it.

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
