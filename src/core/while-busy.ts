// What a plain message does while a turn runs in its conversation (`routing.whileBusy`, /whilebusy): wait
// for the turn's end, or steer it. Decided in one place, in the order the settings narrow: the
// conversation's own choice, else its binding's, else the routing default.

import type { ConversationRef } from './adapter-types.js';
import type { ConversationRecord } from './state.js';

/** What a plain message does while a turn runs in its conversation: wait for the turn's end, or steer it. */
export type WhileBusy = 'queue' | 'steer';

/** Where the effective value came from (what /whilebusy tells the person). */
export type WhileBusySource = 'conversation' | 'binding' | 'routing';

/** What applies when a conversation sets nothing itself. */
export interface WhileBusyDefaults {
  /** `routing.whileBusy`. Default 'queue'. */
  routing?: WhileBusy;
  /** The `whileBusy` of the binding this conversation belongs to; `undefined` where it sets none. */
  binding?: (ref: ConversationRef) => WhileBusy | undefined;
}

/** The effective `whileBusy` of a conversation, and where it came from. The one place this is decided. */
export function whileBusyFor(conv: Pick<ConversationRecord, 'ref' | 'whileBusy'>, defaults: WhileBusyDefaults): { value: WhileBusy; from: WhileBusySource } {
  if (conv.whileBusy) return { value: conv.whileBusy, from: 'conversation' };
  const bound = defaults.binding?.(conv.ref);
  if (bound) return { value: bound, from: 'binding' };
  return { value: defaults.routing ?? 'queue', from: 'routing' };
}
