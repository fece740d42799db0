// Web API request bodies as Slack takes them: form-encoded (nested values as JSON strings, which is what
// @slack/web-api sends) or JSON; the token from `Authorization: Bearer` or a `token` argument.
import type { IncomingMessage } from 'node:http';
import { readBodyCapped } from '../fake-http.js';

const MAX_BODY_BYTES = 2 * 1024 * 1024;

export class BadRequest extends Error {}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return readBodyCapped(req, MAX_BODY_BYTES, () => new BadRequest('request too large'));
}

/** Arguments of a Web API call; form values that look like JSON arrays/objects are decoded. */
export function parseArgs(contentType: string, raw: string, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (!raw) return args;
  if (contentType.includes('application/json')) {
    try {
      return { ...args, ...(JSON.parse(raw) as Record<string, unknown>) };
    } catch {
      throw new BadRequest('invalid_json');
    }
  }
  if (contentType.includes('multipart/form-data')) throw new BadRequest('invalid_form_data');
  for (const [k, v] of new URLSearchParams(raw)) {
    if (/^[[{]/.test(v)) {
      try {
        args[k] = JSON.parse(v);
        continue;
      } catch {
        // not JSON after all: keep the string
      }
    }
    args[k] = v;
  }
  return args;
}

export function tokenOf(req: IncomingMessage, args: Record<string, unknown>): string | undefined {
  const auth = req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  if (m) return m[1];
  return typeof args.token === 'string' && args.token ? args.token : undefined;
}
