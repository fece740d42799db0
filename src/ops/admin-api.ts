// The admin HTTP API on the ops listener (`/admin/…`, only when `ops.adminToken` is set): the operator
// operations (conversations, pairing, usage) as JSON. Every request must carry `Authorization: Bearer
// <ops.adminToken>`, compared in constant time (both sides hashed first, so not even the length leaks); a
// missing or wrong one gets 401 and nothing else. Responses never hold a secret: no tokens, and pairing
// codes are left out (the person hands their code to the operator, who posts it to approve).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ControlError, type ControlErrorCode } from './control-protocol.js';

/** Runs one operator operation by name (the daemon's table). */
export type RunOperation = (op: string, args: Record<string, unknown>) => Promise<unknown>;

export interface AdminApiOptions {
  /** ops.adminToken. */
  token: string;
  run: RunOperation;
}

/** Largest request body, bytes. */
const MAX_BODY = 64 * 1024;

const STATUS: Record<ControlErrorCode, number> = {
  not_running: 503,
  starting: 503,
  unknown_op: 404,
  bad_request: 400,
  not_found: 404,
  timeout: 504,
  failed: 500,
};

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** True when the request carries the admin token (constant-time on the hashes). */
export function authorized(req: IncomingMessage, token: string): boolean {
  // The scheme name is case-insensitive (RFC 9110 §11.1): `bearer x` is as good as `Bearer x`.
  const given = /^Bearer +(.*?) *$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

function fail(res: ServerResponse, status: number, code: string, message: string, headers?: Record<string, string>): void {
  send(res, status, { error: { code, message } }, headers);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ControlError('bad_request', `the request body is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ControlError('bad_request', 'the request body is not JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ControlError('bad_request', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Which operation a method and path name, with the arguments the path carries. */
function route(method: string, parts: string[], query: URLSearchParams): { op: string; args: Record<string, unknown>; body?: string[] } | 'method' | undefined {
  const [area, key, action, ...rest] = parts;
  if (rest.length) return undefined;
  if (area === 'conversations') {
    if (key === undefined) return method === 'GET' ? { op: 'conversations.list', args: query.has('platform') ? { platform: query.get('platform') } : {} } : 'method';
    if (action === undefined) return method === 'GET' ? { op: 'conversations.show', args: { key } } : 'method';
    if (!['bind', 'reset', 'stop'].includes(action)) return undefined;
    return method === 'POST' ? { op: `conversations.${action}`, args: { key }, body: action === 'bind' ? ['loopId'] : [] } : 'method';
  }
  if (area === 'pairing') {
    if (key === undefined) return method === 'GET' ? { op: 'pairing.list', args: { codes: false } } : 'method';
    if ((key !== 'approve' && key !== 'deny') || action !== undefined) return undefined;
    return method === 'POST' ? { op: `pairing.${key}`, args: {}, body: ['code'] } : 'method';
  }
  if (area === 'usage' && key === undefined) return method === 'GET' ? { op: 'usage.report', args: query.has('since') ? { since: query.get('since') } : {} } : 'method';
  return undefined;
}

/** Answers a request under `/admin/`. */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, options: AdminApiOptions): Promise<void> {
  if (!authorized(req, options.token)) {
    req.resume();
    return fail(res, 401, 'unauthorized', 'missing or wrong admin token (Authorization: Bearer <ops.adminToken>)', { 'www-authenticate': 'Bearer realm="loopbridge admin"' });
  }
  const url = new URL(req.url ?? '/', 'http://admin');
  let parts: string[];
  try {
    parts = url.pathname.replace(/^\/admin\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return fail(res, 400, 'bad_request', 'the path is not validly percent-encoded');
  }
  const method = req.method ?? 'GET';
  const r = route(method, parts, url.searchParams);
  if (r === undefined) {
    req.resume();
    return fail(res, 404, 'not_found', `no admin route ${method} ${url.pathname}; see README (Admin HTTP API)`);
  }
  if (r === 'method') {
    req.resume();
    return fail(res, 405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`);
  }
  try {
    const args = { ...r.args };
    if (r.body) {
      const body = await readJson(req);
      for (const name of r.body) if (body[name] !== undefined) args[name] = body[name];
    } else {
      req.resume();
    }
    send(res, 200, await options.run(r.op, args));
  } catch (err) {
    const e = err instanceof ControlError ? err : new ControlError('failed', err instanceof Error ? err.message : String(err));
    fail(res, STATUS[e.code], e.code, e.message);
  }
}
