// Public entry of the Loop API v1 simulator: startSimulator() and the Simulator handle.
import type { ScriptStep, SimOptions } from './options.js';
import type { LoopCreation } from './loops-state.js';
import { SimServer } from './server.js';

export type { ScriptQuestion, ScriptStep, SimOptions, SimQuirks, StepOutcome } from './options.js';
export type { LoopCreation } from './loops-state.js';
export { DEFAULT_QUIRKS } from './options.js';
export { KEYWORDS, QUESTION_SET } from './agent.js';

/** Fault injection controls of a running simulator. */
export interface SimFaults {
  /** The next n requests (optionally only those whose path matches) fail with this status; body default is a non-JSON 'Internal Server Error' text for 5xx, the JSON envelope otherwise. */
  failNext(n: number, status: number, opts?: { path?: RegExp; body?: string }): void;
  /** Drops every pending `failNext` rule, so requests succeed again. */
  clearFailures(): void;
  /** The next SSE stream opened (POST or GET /events, optionally matching path) is destroyed after it has written n events (pings count). */
  cutStreamAfter(n: number, opts?: { path?: RegExp }): void;
  /** The next SSE stream stops writing (no events, no pings, no end, no idle cut) but stays open. */
  stallNext(opts?: { path?: RegExp }): void;
  /** Change the idle cut at run time, ms (null = off); applies to open streams too. */
  setIdleCut(ms: number | null): void;
  /** Refuse connections entirely (server down) until restore(). Loop state is kept; open streams are destroyed. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  restore(): Promise<void>;
}

/** A running simulator. */
export interface Simulator {
  /** 'http://127.0.0.1:<port>' (server origin; routes live under /api/v1). */
  readonly url: string;
  readonly port: number;
  /** token → user. */
  readonly tokens: Record<string, string>;
  /** First token (for user alice unless tokens were given). */
  readonly token: string;
  /** The next turn on this loop (or on any loop if loopId is '*') runs these steps instead of the default agent. */
  scriptNextTurn(loopId: string, steps: ScriptStep[]): void;
  /** Lets every turn waiting at (or later reaching) the script step `{ gate: name }` go on. */
  release(gate: string): void;
  /** Contents the "model" actually received on a loop, in order (one per turn start or injection). */
  received(loopId: string): string[];
  /** What a loop was created with (title, repo, profiles, vault, metadata, owner) and the permission mode of its first message; undefined for an unknown loop. */
  creation(loopId: string): LoopCreation | undefined;
  /** Every loop created so far, oldest first, as `creation` describes them. */
  creations(): LoopCreation[];
  /** Revokes a token: later requests with it get 401 missing_credentials (as after a revoke in Settings). */
  revokeToken(token: string): void;
  /** How many images came with each received message (same order as `received`). */
  receivedImages(loopId: string): number[];
  /**
   * All assistant text the loop's current (or last) turn produced so far, whether or not any stream was
   * attached: the ground truth a client's reply is compared with. '' for an unknown loop.
   */
  written(loopId: string): string;
  /** Streams receiving this loop's live events right now (POST streams and watchers); all loops' when omitted. */
  listeners(loopId?: string): number;
  faults: SimFaults;
  /** Number of open SSE streams (for tests). */
  openStreams(): number;
  close(): Promise<void>;
}

/** Starts a simulator on 127.0.0.1 (port 0 by default) and resolves once it listens. */
export async function startSimulator(options: SimOptions = {}): Promise<Simulator> {
  const srv = new SimServer(options);
  await srv.listen(srv.opts.port);
  const port = srv.port;
  const host = srv.opts.host.includes(':') ? `[${srv.opts.host}]` : srv.opts.host;
  const tokens = Object.freeze({ ...srv.opts.tokens });
  let isDown = false;
  return {
    url: `http://${host}:${port}`,
    port,
    tokens,
    token: Object.keys(tokens)[0]!,
    scriptNextTurn: (loopId, steps) => srv.scriptNextTurn(loopId, steps),
    release: (gate) => srv.release(gate),
    received: (loopId) => srv.received(loopId),
    receivedImages: (loopId) => srv.receivedImages(loopId),
    creation: (loopId) => srv.creation(loopId),
    creations: () => srv.creations(),
    revokeToken: (token) => srv.revokeToken(token),
    written: (loopId) => srv.written(loopId),
    listeners: (loopId) => srv.listenerCount(loopId),
    faults: {
      failNext: (n, status, opts) => srv.faultPlan.failNext(n, status, opts),
      clearFailures: () => srv.faultPlan.clearFailures(),
      cutStreamAfter: (n, opts) => srv.faultPlan.cutStreamAfter(n, opts),
      stallNext: (opts) => srv.faultPlan.stallNext(opts),
      setIdleCut: (ms) => srv.setIdleCut(ms),
      down: async () => {
        if (isDown) return;
        isDown = true;
        await srv.stopListening();
      },
      restore: async () => {
        if (!isDown) return;
        await srv.listen(port);
        isDown = false;
      },
    },
    openStreams: () => srv.openStreamCount(),
    close: () => srv.close(),
  };
}
