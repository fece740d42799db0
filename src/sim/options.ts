// Public option and script types of the simulator, plus their resolved defaults.

/**
 * Switches for each [IMPL] quirk of the real server (contract §11). All default `true` (= behave like
 * the real server); set one to `false` to get what the [SPEC] promises instead.
 */
export interface SimQuirks {
  /** A POST sent while busy closes at the running turn's `done` (false: it follows its own turn). Default true. */
  queuedStreamClosesAtCurrentDone: boolean;
  /** Only the first listener gets the tracked turn_id in `done`; the others a fresh random one. Default true. */
  doneTurnIdMismatch: boolean;
  /** Each delta is appended to the tracker once per listener; with 0 listeners it is not appended. Default true. */
  snapshotTextDuplicated: boolean;
  /** `started.cold_start` is always false (false: the first turn of a loop reports true). Default true. */
  coldStartAlwaysFalse: boolean;
  /** `permission_mode` persists on the session for later turns (false: it applies to that turn only). Default true. */
  permissionModeSticky: boolean;
  /** Changing `permission_mode` wipes the loop's profiles → [] and vault → 'default'. Default true. */
  configWipe: boolean;
  /** No `tool_result` for the tool step where a queued message is injected. Default true. */
  noToolResultAtInjection: boolean;
  /** A client disconnect marks the idempotency record done (IMPL); false = keep buffering and attach live (SPEC). Default true. */
  disconnectMarksIdempotencyDone: boolean;
}

/** Options of {@link startSimulator}. */
export interface SimOptions {
  /** TCP port; default 0 (ephemeral). */
  port?: number;
  /** Listen address; default '127.0.0.1'. */
  host?: string;
  /** token → username. Default: one random token for user 'alice' (exposed as sim.tokens). */
  tokens?: Record<string, string>;
  /** Quirk switches; each defaults to true (= IMPL). */
  quirks?: Partial<SimQuirks>;
  /** Interval between `ping` events on every SSE stream, ms; first ping one interval after open. Default 15000. */
  pingIntervalMs?: number;
  /** A pending permission is auto-denied after this long, ms. Default 120000. */
  permissionTimeoutMs?: number;
  /** A pending question fails after this long, ms. Default 300000. */
  questionTimeoutMs?: number;
  /** Server-side cut of an SSE stream that wrote no bytes for this long, ms (Bun's ~10 s idle cut). null = off. Default 10000. */
  idleCutMs?: number | null;
  /** Delay between the default agent's deltas, ms. Default 20. */
  deltaDelayMs?: number;
  /**
   * How long each tool of the default agent's `tools` turn runs before its result, ms (time for a person to
   * steer the turn by hand; a steer is taken in at the result). Default 0 (the CLI and the demo use 3000).
   */
  toolDelayMs?: number;
  /** Users whose onboarding is incomplete (POST /loops → 403 onboarding_incomplete). Default none. */
  onboardingIncomplete?: string[];
}

/** One question of an AskUserQuestion step (the [IMPL] verbatim shape). */
export interface ScriptQuestion {
  question: string;
  header?: string;
  options: Array<{ label: string; description?: string }>;
  multiSelect?: boolean;
}

/** One step of a scripted turn. Exactly one of the action fields is set. */
export interface ScriptStep {
  /** Wait before this step, ms. Default 0. */
  delayMs?: number;
  /** An `assistant_delta` with this text. */
  delta?: string;
  /** A `thinking_delta` (the real server effectively never sends it). */
  thinking?: string;
  /** `tool_call`, then `tool_result` with `ok` (default true) after the tool ran `runMs` (default 0) ms. */
  tool?: { id?: string; name: string; input?: Record<string, unknown>; ok?: boolean; runMs?: number };
  /** `tool_call` + `requires_choice` kind permission; waits for the answer or the timeout. `input` feeds input_summary. */
  permission?: { toolId?: string; tool: string; title?: string; input?: Record<string, unknown> };
  /** AskUserQuestion `tool_call` + `requires_choice` kind question; waits for the answer or the timeout. */
  question?: { toolId?: string; questions: ScriptQuestion[] };
  /** `error{code:'agent_error', message}` then `done` (watchers see both; a POST stream closes at the error). Ends the turn. */
  error?: string;
  /** Any event written verbatim (for unknown-event tests). */
  raw?: { event: string; data: unknown };
  /**
   * Test control, no event: the turn waits here until `sim.release(gate)` (or an interrupt). Lets a test
   * hold a turn at a point without a tool step (which a queued message would be injected at) or a timer.
   */
  gate?: string;
}

/** What a step's execution tells the agent (lets the default agent react to choices). */
export interface StepOutcome {
  /** Permission steps: whether the tool was allowed (false on deny and timeout). */
  allowed?: boolean;
  /** Question steps: the answers object, or undefined when the question failed. */
  answers?: Record<string, unknown>;
  /** The choice timed out. */
  timedOut?: boolean;
}

/** Fully defaulted options (internal). */
export interface ResolvedSimOptions {
  port: number;
  host: string;
  tokens: Record<string, string>;
  quirks: SimQuirks;
  pingIntervalMs: number;
  permissionTimeoutMs: number;
  questionTimeoutMs: number;
  idleCutMs: number | null;
  deltaDelayMs: number;
  toolDelayMs: number;
  onboardingIncomplete: Set<string>;
}

export const DEFAULT_QUIRKS: Readonly<SimQuirks> = Object.freeze({
  queuedStreamClosesAtCurrentDone: true,
  doneTurnIdMismatch: true,
  snapshotTextDuplicated: true,
  coldStartAlwaysFalse: true,
  permissionModeSticky: true,
  configWipe: true,
  noToolResultAtInjection: true,
  disconnectMarksIdempotencyDone: true,
});

export function resolveOptions(o: SimOptions, defaultTokens: () => Record<string, string>): ResolvedSimOptions {
  return {
    port: o.port ?? 0,
    host: o.host ?? '127.0.0.1',
    tokens: o.tokens && Object.keys(o.tokens).length > 0 ? { ...o.tokens } : defaultTokens(),
    quirks: { ...DEFAULT_QUIRKS, ...(o.quirks ?? {}) },
    pingIntervalMs: o.pingIntervalMs ?? 15_000,
    permissionTimeoutMs: o.permissionTimeoutMs ?? 120_000,
    questionTimeoutMs: o.questionTimeoutMs ?? 300_000,
    idleCutMs: o.idleCutMs === undefined ? 10_000 : o.idleCutMs,
    deltaDelayMs: o.deltaDelayMs ?? 20,
    toolDelayMs: o.toolDelayMs ?? 0,
    onboardingIncomplete: new Set(o.onboardingIncomplete ?? []),
  };
}
