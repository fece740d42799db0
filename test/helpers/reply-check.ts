// Judges a final reply against the text the loop actually wrote (the simulator's `written`): complete and
// exact, or carrying the plain "part may be missing" note with what it does show still in order, nothing
// doubled. A silent hole or a doubled passage is a failure.

import type { ScriptStep } from '../../src/sim/index.js';

/** The start of the note a reply carries when part of it could not be recovered. */
export const MISSING_NOTE = '⚠️ Part of this reply may be missing';

const NOTE_BLOCK = /(?:^|\n\n)⚠️ Part of this reply may be missing:[^\n]*(?=\n\n|$)/g;

export interface ReplyVerdict {
  /** How many missing-part notes the reply carries. */
  notes: number;
  /** Why the reply is wrong, or undefined when it is acceptable. */
  problem?: string;
}

/**
 * `reply` as shown (markdown blocks joined by blank lines), `written` the loop's whole text. Without a
 * note the reply must be exactly `written` (trimmed); with one, each passage between notes must be found
 * in `written` after the previous one (so every word shown is in order and none is doubled).
 */
export function checkReply(reply: string, written: string): ReplyVerdict {
  const notes = reply.match(NOTE_BLOCK)?.length ?? 0;
  const want = written.trim();
  if (notes === 0) {
    return reply.trim() === want ? { notes } : { notes, problem: `incomplete or altered without a note:\n${reply}\n--- expected ---\n${want}` };
  }
  let at = 0;
  for (const piece of reply.split(NOTE_BLOCK).map((p) => p.trim()).filter(Boolean)) {
    const found = want.indexOf(piece, at);
    if (found < 0) return { notes, problem: `a passage is doubled, out of order or altered: ${JSON.stringify(piece.slice(0, 120))}` };
    at = found + piece.length;
  }
  return { notes };
}

/**
 * A turn for the restart tests: `seg01 … seg30`, 100 ms apart, held twice so that nothing depends on how fast
 * the machine is: after seg03 until the test calls `sim.release(downGate)` (kill the daemon first: seg04–seg12
 * are then written with nobody attached), and after seg12 at a permission prompt until the test answers
 * `gateChoiceId` (once the restarted daemon follows the turn again: seg13–seg30 reach it).
 */
export function gatedSegments(): { steps: ScriptStep[]; segs: string[]; written: string; downGate: string; gateChoiceId: string; lost: string[] } {
  const segs = Array.from({ length: 30 }, (_, i) => `seg${String(i + 1).padStart(2, '0')}`);
  const delta = (i: number): ScriptStep => ({ delta: i ? ` ${segs[i]}` : segs[i], delayMs: 100 });
  const steps: ScriptStep[] = [
    ...[0, 1, 2].map(delta),
    { gate: 'restart-test-down' },
    ...[3, 4, 5, 6, 7, 8, 9, 10, 11].map(delta),
    { permission: { toolId: 'toolu_gate', tool: 'Bash' } },
    ...segs.slice(12).map((_, i) => delta(i + 12)),
  ];
  return { steps, segs, written: segs.join(' '), downGate: 'restart-test-down', gateChoiceId: 'choice_toolu_gate', lost: segs.slice(3, 12) };
}
