// Downloads an inbound attachment (mxc://server/id) through the authenticated media API
// (`/_matrix/client/v1/media/download`, Matrix 1.11; Synapse refuses the old unauthenticated path for new
// media). matrix-bot-sdk's downloadContent still uses that old path and buffers whole bodies, so this one
// call streams with fetch: abortable, and refused as soon as it passes the size limit.
import { PlatformError } from '../../src/core/adapter-types.js';
import { scrubSecret } from './errors.js';

/** Largest attachment fetched, bytes (the loop takes images up to 10 MB). */
export const MAX_MEDIA_BYTES = 10 * 1024 * 1024;

export interface MediaContext {
  homeserverUrl: string;
  accessToken: string;
  /** Default MAX_MEDIA_BYTES. */
  maxBytes?: number;
}

function tooLarge(size: number, max: number): PlatformError {
  return new PlatformError(`matrix media is ${size} bytes; the limit is ${max} bytes`, 'file_too_large', true);
}

/** mxc://server/mediaId → [server, mediaId]; throws a permanent error for anything else. */
export function parseMxc(ref: string): [string, string] {
  const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(ref);
  if (!m) throw new PlatformError(`matrix media: ${JSON.stringify(ref.slice(0, 80))} is not an mxc:// URL`, 'bad_mxc', true);
  return [m[1], m[2]];
}

export async function downloadMedia(ctx: MediaContext, ref: string, signal: AbortSignal): Promise<Buffer> {
  const max = ctx.maxBytes ?? MAX_MEDIA_BYTES;
  const [server, mediaId] = parseMxc(ref);
  const url = `${ctx.homeserverUrl.replace(/\/+$/, '')}/_matrix/client/v1/media/download/${encodeURIComponent(server)}/${encodeURIComponent(mediaId)}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${ctx.accessToken}` }, signal });
  } catch (err) {
    signal.throwIfAborted();
    throw new PlatformError(`matrix media download failed: ${scrubSecret(err instanceof Error ? err.message : String(err), ctx.accessToken)}`, 'network', false);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    if (res.status === 429) throw new PlatformError('matrix media download: rate limited (429)', 429, false);
    throw new PlatformError(`matrix media download failed: HTTP ${res.status}`, res.status, res.status < 500);
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
    throw new PlatformError(`matrix media download failed: ${scrubSecret(err instanceof Error ? err.message : String(err), ctx.accessToken)}`, 'network', false);
  }
  return Buffer.concat(chunks);
}
