// Small node:http helpers: body parsing (malformed JSON → {} like the real server) and the error envelope.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorType } from '../loop-api/types.js';

/** Reads the whole body; malformed or non-object JSON becomes {} (contract §2.2). */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

/** The non-JSON 500 an uncaught exception gives on the real server (Hono's default handler). */
export function sendPlain500(res: ServerResponse, body = 'Internal Server Error'): void {
  res.writeHead(500, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Thrown by route code; turned into the JSON error envelope. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendError(res: ServerResponse, e: ApiError): void {
  sendJson(res, e.status, { error: { type: e.type, code: e.code, message: e.message } });
}

export const badRequest = (code: string, message: string): ApiError =>
  new ApiError(400, 'invalid_request_error', code, message);
export const unauthorized = (): ApiError =>
  new ApiError(401, 'authentication_error', 'missing_credentials', 'missing or invalid credentials');
export const loopNotFound = (): ApiError => new ApiError(404, 'not_found_error', 'loop_not_found', 'loop not found');
export const notOwner = (): ApiError =>
  new ApiError(403, 'permission_error', 'not_loop_owner', 'loop belongs to another user');

/** Envelope for an injected 4xx fault, shaped like what that status means on the real server. */
export function faultEnvelope(status: number): ApiError {
  switch (status) {
    case 401:
      return unauthorized();
    case 403:
      return notOwner();
    case 404:
      return loopNotFound();
    case 409:
      return new ApiError(409, 'conflict_error', 'idempotency_key_reused', 'injected conflict');
    case 429:
      return new ApiError(429, 'rate_limit_error', 'too_many_requests', 'injected rate limit');
    default:
      return status >= 500
        ? new ApiError(status, 'internal_error', 'internal_error', 'injected server error')
        : new ApiError(status, 'invalid_request_error', 'injected_fault', 'injected fault');
  }
}
