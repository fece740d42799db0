// An inbound file's bytes over HTTP, streamed with fetch: abortable, and refused as soon as it passes the
// size limit (first by its declared length, then by what actually arrives), so a huge or endless body
// never sits in memory. Every failure is a PlatformError whose message is scrubbed of the caller's secrets.
import { PlatformError } from '../../src/core/adapter-types.js';

/** One download. */
export interface CappedDownload {
  /** Names the thing in messages, e.g. 'telegram file'. */
  what: string;
  url: string | URL;
  /** Request headers (e.g. a bearer token); default none. */
  headers?: Record<string, string>;
  /** fetch's redirect mode; default 'follow'. */
  redirect?: RequestInit['redirect'];
  /** Largest body accepted, bytes. */
  maxBytes: number;
  /** Removes the caller's secrets from a text before it goes into an error. */
  scrub(text: string): string;
  /** Refuses a successful answer before its body is read (e.g. a sign-in page instead of the file). */
  refuse?(res: Response): PlatformError | undefined;
}

/** The permanent refusal of a file over the limit (`file_too_large`). */
export function tooLarge(what: string, size: number, max: number): PlatformError {
  return new PlatformError(`${what} is ${size} bytes; the limit is ${max} bytes`, 'file_too_large', true);
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici's "fetch failed" says why only in its cause (ECONNREFUSED, a reset, …).
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}

/**
 * GETs the body whole. HTTP 429 and 5xx and network failures are transient (the caller may retry); other
 * HTTP errors, refusals and files over `maxBytes` are permanent. An abort rethrows the signal's reason.
 */
export async function downloadCapped(d: CappedDownload, signal: AbortSignal): Promise<Buffer> {
  const failed = (err: unknown) => {
    signal.throwIfAborted();
    return new PlatformError(`${d.what} download failed: ${d.scrub(reason(err))}`, 'network', false);
  };
  let res: Response;
  try {
    res = await fetch(d.url, { headers: d.headers, redirect: d.redirect, signal });
  } catch (err) {
    throw failed(err);
  }
  const drop = () => res.body?.cancel().catch(() => undefined);
  if (!res.ok) {
    await drop();
    if (res.status === 429) throw new PlatformError(`${d.what} download: rate limited (429)`, 429, false);
    throw new PlatformError(`${d.what} download failed: HTTP ${res.status}`, res.status, res.status < 500);
  }
  const refused = d.refuse?.(res);
  if (refused) {
    await drop();
    throw refused;
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > d.maxBytes) {
    await drop();
    throw tooLarge(d.what, declared, d.maxBytes);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body ?? []) {
      total += chunk.byteLength;
      // Throwing inside for-await ends the iteration, which cancels the body stream.
      if (total > d.maxBytes) throw tooLarge(d.what, total, d.maxBytes);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof PlatformError) throw err;
    throw failed(err);
  }
  return Buffer.concat(chunks);
}
