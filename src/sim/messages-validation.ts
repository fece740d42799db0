// Body validation of POST /loops/{id}/messages in the real server's order (§3.5 steps 5–8).
import { badRequest } from './http-util.js';

const CONTENT_MAX = 1_048_576;
const MAX_IMAGES = 5;
/** ceil(10 MiB × 4/3): the longest base64 string for a 10 MiB image. */
const IMAGE_B64_MAX = 13_981_014;
const MEDIA_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const KEY_MAX = 256;

export interface ValidatedMessage {
  content: string;
  images: Array<{ mediaType: string; data: string }>;
  /** A valid permission_mode, or undefined (invalid values are silently ignored). */
  permissionMode?: string;
  idempotencyKey?: string;
}

const MODES = new Set(['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk', 'auto']);

/** Throws the first ApiError in the server's order; the archived check happens before this. */
export function validateMessage(body: Record<string, unknown>, keyHeader: string | undefined): ValidatedMessage {
  const content = typeof body.content === 'string' ? body.content : '';
  if (content.length > CONTENT_MAX) throw badRequest('content_too_large', `content exceeds ${CONTENT_MAX} characters`);
  const images: ValidatedMessage['images'] = [];
  if (Array.isArray(body.images)) {
    if (body.images.length > MAX_IMAGES) throw badRequest('too_many_images', `at most ${MAX_IMAGES} images`);
    for (const item of body.images as unknown[]) {
      const img = item as { mediaType?: unknown; data?: unknown } | null;
      if (img === null || typeof img !== 'object' || typeof img.data !== 'string' || img.data === '' || !BASE64_RE.test(img.data))
        throw badRequest('image_data_invalid', 'image data must be non-empty raw base64');
      if (typeof img.mediaType !== 'string' || !MEDIA_TYPES.has(img.mediaType))
        throw badRequest('unsupported_media_type', 'mediaType must be image/png, image/jpeg, image/gif or image/webp');
      if (img.data.length > IMAGE_B64_MAX) throw badRequest('image_too_large', 'image exceeds 10 MB');
      images.push({ mediaType: img.mediaType, data: img.data });
    }
  }
  if (content === '' && images.length === 0) throw badRequest('missing_content', 'content or images required');
  const key = keyHeader === '' ? undefined : keyHeader;
  if (key !== undefined && key.length > KEY_MAX)
    throw badRequest('idempotency_key_too_long', `Idempotency-Key exceeds ${KEY_MAX} characters`);
  const mode = typeof body.permission_mode === 'string' && MODES.has(body.permission_mode) ? body.permission_mode : undefined;
  return { content, images, permissionMode: mode, idempotencyKey: key };
}
