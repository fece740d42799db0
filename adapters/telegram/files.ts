// Downloads an inbound file: getFile resolves the file_id to a path, then the bytes come from
// `<apiRoot>/file/bot<token>/<path>`. That URL holds the token, so it never appears in an error.
import { PlatformError } from '../../src/core/adapter-types.js';
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

function tooLarge(size: number, max: number): PlatformError {
  return new PlatformError(`telegram file is ${size} bytes; the limit is ${max} bytes`, 'file_too_large', true);
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
  if (file.file_size !== undefined && file.file_size > max) throw tooLarge(file.file_size, max);
  if (!file.file_path) throw new PlatformError('telegram getFile: no file_path (file too big for the Bot API)', 'no_file_path', true);

  const url = `${ctx.apiRoot.replace(/\/+$/, '')}/file/bot${ctx.token}/${file.file_path.split('/').map(encodeURIComponent).join('/')}`;
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    signal.throwIfAborted();
    const why = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
    throw new PlatformError(`telegram file download failed: ${scrubToken(why, ctx.token)}`, 'network', false);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new PlatformError(`telegram file download failed: HTTP ${res.status}`, res.status, res.status < 500);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(declared, max);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      // Throwing inside for-await ends the iteration, which cancels the body stream.
      if (total > max) throw tooLarge(total, max);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof PlatformError) throw err;
    signal.throwIfAborted();
    throw new PlatformError(`telegram file download failed: ${scrubToken(err instanceof Error ? err.message : String(err), ctx.token)}`, 'network', false);
  }
  return Buffer.concat(chunks);
}
