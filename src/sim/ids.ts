// ID formats of the real server (contract §11.3) and the idempotency request hash (§4.4.1).
import { randomBytes, randomUUID } from 'node:crypto';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

export const newToken = (): string => `la_${hex(24)}`;
export const newLoopUuid = (): string => randomUUID();
export const newTurnId = (): string => `turn_${hex(10)}`;
export const newToolUseId = (): string => `toolu_${hex(12)}`;
export const TOKEN_RE = /^la_[0-9a-f]{48}$/;

/** Path parameters accept the ID with or without its prefix. */
export function stripPrefix(id: string, prefix: string): string {
  return id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

/** 32-bit Java-style string hash, as the real server uses (collisions are possible, as there). */
export function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The hash an idempotency record stores: content plus each image's `mediaType:data.length`. */
export function requestHash(content: string, images: Array<{ mediaType: string; data: string }>): number {
  const tail = images.length > 0 ? '::' + images.map((i) => `${i.mediaType}:${i.data.length}`).join(',') : '';
  return javaHash(content + tail);
}
