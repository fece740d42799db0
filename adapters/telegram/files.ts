// Downloads an inbound file: getFile resolves the file_id to a path, then the bytes come from
// `<apiRoot>/file/bot<token>/<path>`. That URL holds the token, so it never appears in an error.
import { PlatformError } from '../../src/core/adapter-types.js';
import { downloadCapped, tooLarge } from '../shared/capped-download.js';
import { classifyTelegramError, forGrammy, scrubToken, toThrowable } from './errors.js';
import type { SendContext } from './send.js';

/** Largest file fetchFile accepts, bytes (the loop takes images up to 10 MB). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/** Where and how to download. */
export interface FileContext extends SendContext {
  /** Bot API origin, no trailing slash. */
  apiRoot: string;
  /** Refuse files larger than this, bytes; default MAX_FILE_BYTES. */
  maxBytes?: number;
}

/** getFile + download, abortable; refuses files over `maxBytes` before and while downloading. */
export async function fetchTelegramFile(ctx: FileContext, fileId: string, signal: AbortSignal): Promise<Buffer> {
  const max = ctx.maxBytes ?? MAX_FILE_BYTES;
  signal.throwIfAborted();
  let file;
  try {
    file = await ctx.api.getFile(fileId, forGrammy(signal));
  } catch (err) {
    signal.throwIfAborted();
    throw toThrowable(classifyTelegramError(err, 'getFile', ctx.token), 'getFile');
  }
  if (file.file_size !== undefined && file.file_size > max) throw tooLarge('telegram file', file.file_size, max);
  if (!file.file_path) throw new PlatformError('telegram getFile: no file_path (file too big for the Bot API)', 'no_file_path', true);

  const path = file.file_path.split('/').map(encodeURIComponent).join('/');
  return downloadCapped(
    { what: 'telegram file', url: `${ctx.apiRoot.replace(/\/+$/, '')}/file/bot${ctx.token}/${path}`, maxBytes: max, scrub: (text) => scrubToken(text, ctx.token) },
    signal,
  );
}
