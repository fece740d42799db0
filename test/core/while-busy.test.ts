// The effective whileBusy of a conversation: its own /whilebusy, else its binding's, else routing.whileBusy.
import { describe, expect, it } from 'vitest';
import type { ConversationRef } from '../../src/core/adapter-types.js';
import { whileBusyFor, type WhileBusy } from '../../src/core/while-busy.js';

const ref: ConversationRef = { platform: 'test', chatId: 'g1', isDirect: false };
const other: ConversationRef = { platform: 'test', chatId: 'g2', isDirect: false };
/** A binding layer that sets `steer` for g1 only. */
const binding = (r: ConversationRef): WhileBusy | undefined => (r.chatId === 'g1' ? 'steer' : undefined);

describe('whileBusyFor', () => {
  it('routing.whileBusy applies where nothing narrower is set (queue when that is unset too)', () => {
    expect(whileBusyFor({ ref }, {})).toEqual({ value: 'queue', from: 'routing' });
    expect(whileBusyFor({ ref }, { routing: 'steer' })).toEqual({ value: 'steer', from: 'routing' });
  });
  it("a binding's value overrides routing, only for the conversations it binds", () => {
    expect(whileBusyFor({ ref }, { routing: 'queue', binding })).toEqual({ value: 'steer', from: 'binding' });
    expect(whileBusyFor({ ref: other }, { routing: 'queue', binding })).toEqual({ value: 'queue', from: 'routing' });
  });
  it("the conversation's own /whilebusy overrides both", () => {
    expect(whileBusyFor({ ref, whileBusy: 'queue' }, { routing: 'steer', binding })).toEqual({ value: 'queue', from: 'conversation' });
  });
});
