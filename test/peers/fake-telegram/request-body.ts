// Reads a Bot API request into raw parameters plus uploaded files. JSON keeps its types; urlencoded and
// multipart give strings, which `params.ts` coerces per field the way the real server does.
import type { IncomingMessage } from 'node:http';
import { readBodyCapped } from '../fake-http.js';
import { badRequest } from './api-error.js';

export interface UploadedFile {
  /** Multipart part name (a field name, or the id of an `attach://<id>` reference). */
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedRequest {
  params: Record<string, unknown>;
  files: Map<string, UploadedFile>;
}

/** Largest body accepted, bytes (the real server takes 50 MB uploads). */
const MAX_BODY_BYTES = 50 * 1024 * 1024;

export async function parseRequest(req: IncomingMessage, query: URLSearchParams): Promise<ParsedRequest> {
  const params: Record<string, unknown> = Object.fromEntries(query);
  const files = new Map<string, UploadedFile>();
  const body = await readBodyCapped(req, MAX_BODY_BYTES, () => new Error('request body too large'));
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (body.length === 0) return { params, files };
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw badRequest("can't parse JSON object");
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest("can't parse JSON object");
    Object.assign(params, parsed);
  } else if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(req.headers['content-type'] ?? '');
    if (!boundary) throw badRequest('wrong multipart/form-data request');
    for (const part of splitMultipart(body, boundary[1] ?? boundary[2])) {
      if (part.filename !== undefined) {
        files.set(part.name, { field: part.name, filename: part.filename, contentType: part.contentType, bytes: part.body });
      } else {
        params[part.name] = part.body.toString('utf8');
      }
    }
  } else {
    // urlencoded, or an untyped body: the real server treats both as form fields.
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
  }
  return { params, files };
}

interface Part {
  name: string;
  filename?: string;
  contentType: string;
  body: Buffer;
}

/** A lenient multipart splitter: grammy writes headers without spaces and filenames unquoted. */
function splitMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw badRequest('wrong multipart/form-data request');
  for (;;) {
    let start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    // The CRLF before the next delimiter belongs to the delimiter, not to the content.
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    const raw = body.subarray(start, end);
    const headerEnd = raw.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = raw.subarray(0, headerEnd).toString('utf8');
      const disposition = /content-disposition:\s*form-data\s*;(.*)/i.exec(headers)?.[1] ?? '';
      const name = /(?:^|;)\s*name=(?:"([^"]*)"|([^;\r\n]*))/i.exec(disposition);
      const filename = /(?:^|;)\s*filename=(?:"([^"]*)"|([^;\r\n]*))/i.exec(disposition);
      const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
      if (name) {
        parts.push({
          name: (name[1] ?? name[2]).trim(),
          filename: filename ? (filename[1] ?? filename[2]).trim() : undefined,
          contentType,
          body: Buffer.from(raw.subarray(headerEnd + 4)),
        });
      }
    }
    pos = next;
  }
  return parts;
}
