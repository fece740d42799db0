// Field coercion: form bodies carry strings, JSON bodies carry typed values; the real server accepts both.
import { badRequest } from './api-error.js';

export type Params = Record<string, unknown>;

export function optInt(p: Params, key: string): number | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw badRequest(`invalid ${key} specified`);
  return n;
}

export function optString(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : String(v);
}

export function optBool(p: Params, key: string): boolean {
  const v = p[key];
  return v === true || v === 'true' || v === '1' || v === 1;
}

/** An object/array field, sent inline in JSON or JSON-encoded in a form field. */
export function optJson<T = unknown>(p: Params, key: string): T | undefined {
  const v = p[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    throw badRequest(`can't parse ${key} JSON object`);
  }
}
