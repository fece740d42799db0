// Downloads an inbound attachment (mxc://server/id) through the authenticated media API
// (`/_matrix/client/v1/media/download`, Matrix 1.11; Synapse refuses the old unauthenticated path for new
// media). matrix-bot-sdk's downloadContent still uses that old path and buffers whole bodies, so this one
// call streams with fetch: abortable, and refused as soon as it passes the size limit.
import { PlatformError } from '../../src/core/adapter-types.js';
import { downloadCapped } from '../shared/capped-download.js';
import { scrubSecret } from './errors.js';

/** Largest attachment fetched, bytes (the loop takes images up to 10 MB). */
export const MAX_MEDIA_BYTES = 10 * 1024 * 1024;

export interface MediaContext {
  homeserverUrl: string;
  accessToken: string;
  /** Default MAX_MEDIA_BYTES. */
  maxBytes?: number;
}

/** mxc://server/mediaId → [server, mediaId]; throws a permanent error for anything else. */
export function parseMxc(ref: string): [string, string] {
  const m = /^mxc:\/\/([^/]+)\/([^/?#]+)$/.exec(ref);
  if (!m) throw new PlatformError(`matrix media: ${JSON.stringify(ref.slice(0, 80))} is not an mxc:// URL`, 'bad_mxc', true);
  return [m[1], m[2]];
}

/** The media's bytes; a 429 is transient, a file over `maxBytes` a permanent `file_too_large`. */
export async function downloadMedia(ctx: MediaContext, ref: string, signal: AbortSignal): Promise<Buffer> {
  const [server, mediaId] = parseMxc(ref);
  return downloadCapped(
    {
      what: 'matrix media',
      url: `${ctx.homeserverUrl.replace(/\/+$/, '')}/_matrix/client/v1/media/download/${encodeURIComponent(server)}/${encodeURIComponent(mediaId)}`,
      headers: { authorization: `Bearer ${ctx.accessToken}` },
      maxBytes: ctx.maxBytes ?? MAX_MEDIA_BYTES,
      scrub: (text) => scrubSecret(text, ctx.accessToken),
    },
    signal,
  );
}
