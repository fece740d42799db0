// The images of an accepted message, fetched from the platform for the loop (contract §3.5: base64, no
// data: prefix). Shared by the turn runner and steering, which both send messages.

import type { ImageInput, ImageMediaType } from '../loop-api/types.js';
import type { Outlet } from './outlet.js';
import type { QueuedMessage } from './state.js';

/** Downloads the message's files through the adapter; [] when it has none or the adapter cannot fetch. */
export async function messageImages(outlet: Outlet, item: QueuedMessage, signal: AbortSignal): Promise<ImageInput[]> {
  const fetchFile = outlet.adapter.fetchFile;
  if (!fetchFile || !item.files.length) return [];
  const out: ImageInput[] = [];
  for (const f of item.files) {
    const bytes = await fetchFile.call(outlet.adapter, f.ref, signal);
    out.push({ mediaType: f.mimeType as ImageMediaType, data: bytes.toString('base64'), filename: f.filename });
  }
  return out;
}
