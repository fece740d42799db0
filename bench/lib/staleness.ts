// How far a live message lags behind the text the core has received, computed after the run from exact
// timelines (no sampler competing with the core for CPU while it runs).

import type { ReceivedDelta } from './tapped-client.js';

/** Staleness figures of one turn, ms. */
export interface TurnStaleness {
  /** Per received delta: time until the platform showed text covering it. */
  deltaLags: number[];
  /** Every `everyMs` from the first received delta until the final was visible: age of the oldest received text not yet shown (0 when caught up). */
  samples: number[];
  /** Deltas never covered by any visible text (should be 0). */
  neverShown: number;
}

/**
 * `received`: the deltas as the core got them (`text`: all of them concatenated); `visible`: the message's text history (send, then each
 * edit). A delta counts as shown once a visible text is at least as long as the render of the text up to
 * it (the renderer trims trailing whitespace) and starts with it.
 */
export function turnStaleness(received: readonly ReceivedDelta[], text: string, visible: ReadonlyArray<{ at: number; text: string }>, everyMs = 100): TurnStaleness {
  const shownAt: number[] = [];
  let neverShown = 0;
  let j = 0;
  for (const d of received) {
    const want = text.slice(0, d.length).trimEnd();
    while (j < visible.length && !(visible[j].text.length >= want.length && visible[j].text.startsWith(want))) j++;
    if (j < visible.length) shownAt.push(Math.max(visible[j].at, d.at));
    else {
      shownAt.push(Infinity);
      neverShown++;
    }
  }
  const deltaLags = received.map((d, i) => shownAt[i] - d.at).filter(Number.isFinite);
  const samples: number[] = [];
  if (received.length) {
    const end = Math.max(...shownAt.filter(Number.isFinite), received[received.length - 1].at);
    let oldest = 0;
    for (let t = received[0].at; t <= end; t += everyMs) {
      while (oldest < received.length && received[oldest].at <= t && shownAt[oldest] <= t) oldest++;
      samples.push(oldest < received.length && received[oldest].at <= t ? t - received[oldest].at : 0);
    }
  }
  return { deltaLags, samples, neverShown };
}
