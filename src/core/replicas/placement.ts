// Which replica runs a chat: rendezvous (highest random weight) hashing of the chat over the live
// replicas. Every replica computes the same answer from the same member list without talking; when a
// replica joins or leaves, only the chats it gains or loses move (about 1/n of them). A whole chat, not
// each of its threads, goes to one replica, so the platform's per-chat limits are paced in one process.

import { createHash } from 'node:crypto';

function weight(replica: string, key: string): bigint {
  // 64 bits of SHA-256: well spread, stable across Node versions and platforms.
  return createHash('sha256').update(replica).update('\u0000').update(key).digest().readBigUInt64BE(0);
}

/** The member of `replicas` that should run `key` (a chat key), or undefined when there are none. */
export function ownerOf(key: string, replicas: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const replica of replicas) {
    const w = weight(replica, key);
    // Ties (never in practice) go to the smaller id, so every replica still agrees.
    if (w > bestWeight || (w === bestWeight && best !== undefined && replica < best)) {
      best = replica;
      bestWeight = w;
    }
  }
  return best;
}
