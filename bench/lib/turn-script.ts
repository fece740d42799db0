// The benchmark turn: a deterministic reply streamed as a fixed number of deltas, so every run can check
// the exact text that arrived against the text that was sent.

import type { ScriptStep } from '../../src/sim/index.js';

/** A scripted turn and the exact reply text it streams. */
export interface BenchTurn {
  steps: ScriptStep[];
  /** Concatenation of every delta (no leading or trailing whitespace, so it is also the final render). */
  text: string;
}

/**
 * `deltas` assistant_delta steps (default 40) of ~40 chars each, `delayMs` apart (the first one `delayMs`
 * after the turn starts). `tag` is woven into the text so replies of different loops differ.
 */
export function benchTurn(tag: string, deltas = 40, delayMs = 50): BenchTurn {
  const parts: string[] = [];
  for (let i = 1; i <= deltas; i++) {
    // A paragraph break every 10 deltas makes the text look like prose with paragraphs.
    const sep = i === deltas ? '' : i % 10 === 0 ? '\n\n' : ' ';
    parts.push(`Part ${i} of reply ${tag} streams here.${sep}`);
  }
  return { steps: parts.map((delta) => ({ delta, delayMs })), text: parts.join('') };
}
