// The core's buttons become an inline keyboard. callback_data carries only the core's opaque token:
// Telegram caps it at 64 bytes, and a token that does not fit is a bug in the caller, so it is refused
// here rather than cut (a cut token would map to nothing, or worse, to another choice).
import type { InlineKeyboardMarkup } from 'grammy/types';
import { PlatformError, type Button } from '../../src/core/adapter-types.js';

/** Telegram's limit on callback_data, in UTF-8 bytes. */
export const MAX_CALLBACK_DATA_BYTES = 64;

/** Button[][] → inline_keyboard; rows without buttons are dropped. Throws a permanent PlatformError for a token over 64 bytes or empty. */
export function toInlineKeyboard(buttons: Button[][] | undefined): InlineKeyboardMarkup {
  const rows = (buttons ?? []).filter((row) => row.length > 0);
  return {
    inline_keyboard: rows.map((row) =>
      row.map((b) => {
        const bytes = Buffer.byteLength(b.token, 'utf8');
        if (bytes < 1 || bytes > MAX_CALLBACK_DATA_BYTES) {
          throw new PlatformError(`button "${b.label}": token must be 1–${MAX_CALLBACK_DATA_BYTES} bytes (got ${bytes})`, 'button_data_invalid', true);
        }
        return { text: b.label, callback_data: b.token };
      }),
    ),
  };
}
