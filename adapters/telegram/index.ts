// Public surface of the Telegram adapter.
export { TelegramAdapter, TelegramStartupError, type TelegramAdapterOptions, type TelegramLog } from './telegram-adapter.js';
export type { TelegramStartupCode } from './errors.js';
export type { TelegramWebhookOptions } from './transport-webhook.js';
export { parseUpdate, TELEGRAM_PLATFORM, type BotSelf } from './parse.js';
export { MAX_CALLBACK_DATA_BYTES } from './buttons.js';
export { MAX_FILE_BYTES } from './files.js';
