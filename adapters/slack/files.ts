// Downloads a shared file from its url_private with the bot token. The token goes only to Slack's own hosts
// (or the configured API origin, for a test fake): an event can name any URL, and a token sent elsewhere
// would be given away. Without a valid token Slack answers 200 with an HTML sign-in page, not the file, so
// an HTML answer to a non-HTML file is an error rather than an image.
import { PlatformError } from '../../src/core/adapter-types.js';
import { downloadCapped } from '../shared/capped-download.js';
import { scrub } from './errors.js';

/** Largest file fetched, bytes (the loop takes images up to 10 MB). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

export interface FileContext {
  token: string;
  /** The Web API URL; its origin is trusted like Slack's own hosts. */
  apiUrl: string;
  maxBytes?: number;
}

const SLACK_HOSTS = /(^|\.)(slack\.com|slack-edge\.com|slack-files\.com)$/i;

function trusted(url: URL, apiUrl: string): boolean {
  if (url.origin === new URL(apiUrl).origin) return true;
  return url.protocol === 'https:' && SLACK_HOSTS.test(url.hostname);
}

/** GET url_private with the bot token, abortable, refusing foreign hosts, HTML sign-in pages and files over maxBytes. */
export async function fetchSlackFile(ctx: FileContext, ref: string, signal: AbortSignal): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw new PlatformError('slack file has no download URL', 'no_url', true);
  }
  if (!trusted(url, ctx.apiUrl)) throw new PlatformError(`slack file URL is not on a Slack host (${url.hostname}); not sending the token there`, 'untrusted_host', true);
  return downloadCapped(
    {
      what: 'slack file',
      url,
      headers: { authorization: `Bearer ${ctx.token}` },
      // A redirect could lead the token off Slack's hosts.
      redirect: 'error',
      maxBytes: ctx.maxBytes ?? MAX_FILE_BYTES,
      scrub: (text) => scrub(text, [ctx.token]),
      refuse: (res) =>
        (res.headers.get('content-type') ?? '').startsWith('text/html')
          ? new PlatformError('slack file download answered with a sign-in page: the bot token lacks files:read or cannot see this file', 'not_authorized', true)
          : undefined,
    },
    signal,
  );
}
