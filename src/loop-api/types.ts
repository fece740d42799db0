// Wire types of the Loop API v1 (see shared/loop-api-v1.md). Shared by the client and the simulator.

/** A loop as the server returns it. Runtime fields exist only on GET /loops/{id}. */
export interface Loop {
  id: string;
  title: string;
  created_at: string;
  created_by: string;
  archived: boolean;
  archived_at: string | null;
  metadata: Record<string, unknown>;
  profiles: string[];
  vault: string;
  repo: string | null;
  versions?: Record<string, string> | null;
  /** Only on GET one. */
  busy?: boolean;
  /** Only on GET one. */
  queue_depth?: number;
  /** Only on GET one; [IMPL] always present there, null when idle. */
  current_turn?: CurrentTurn | null;
}

export interface CurrentTurn {
  turn_id: string | null;
  started_at: string | null;
  pending_choice_id: string | null;
}

export interface LoopPage {
  data: Loop[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface CreateLoopInput {
  title?: string;
  metadata?: Record<string, unknown>;
  profiles?: string[];
  vault?: string;
  repo?: string;
  context?: string | { personal?: string; knowledge?: string; notes?: string };
}

export interface ListLoopsQuery {
  /** Page size, clamped by the server to 1..100; default 20. */
  limit?: number;
  after?: string;
  before?: string;
  /** Include archived loops. */
  archived?: boolean;
}

export type PermissionMode = 'default' | 'acceptEdits' | 'bypassPermissions' | 'plan' | 'dontAsk' | 'auto';
export const PERMISSION_MODES: readonly PermissionMode[] = [
  'default',
  'acceptEdits',
  'bypassPermissions',
  'plan',
  'dontAsk',
  'auto',
];

export type ImageMediaType = 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';

export interface ImageInput {
  mediaType: ImageMediaType;
  /** Raw base64, no `data:` prefix; at most 10 MB decoded. */
  data: string;
  filename?: string;
}

export interface SendMessageInput {
  content: string;
  /** At most 5. */
  images?: ImageInput[];
  permissionMode?: PermissionMode;
}

// ---- Choices -------------------------------------------------------------------------------------

/** [IMPL] permission payload. [SPEC] promises {tool, command, reason}; both are accepted. */
export interface PermissionPayload {
  tool: string;
  title?: string;
  display_name?: string;
  command?: string;
  reason?: string;
}

export interface QuestionOption {
  label: string;
  description?: string;
}

/** One question, normalised from the [IMPL] AskUserQuestion shape or the [SPEC] shape. */
export interface Question {
  /** [SPEC] only; absent on the real server. */
  id?: string;
  /** Full text; on the real server also the answer key. */
  question: string;
  header?: string;
  options: QuestionOption[];
  multiSelect: boolean;
}

export interface QuestionPayload {
  questions: Question[];
}

export type ChoiceAnswer = { allow: boolean } | { answers: Record<string, string> };

// ---- Events --------------------------------------------------------------------------------------

/** Usage and cost pulled out of an SDK `result` message, when the server sends one. */
export interface TurnUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  totalCostUsd?: number;
  numTurns?: number;
  durationMs?: number;
  isError?: boolean;
  subtype?: string;
}

export type LoopEvent =
  | { type: 'queued'; position: number }
  | { type: 'started'; turnId: string; coldStart: boolean }
  | { type: 'snapshot'; turnId: string; assistantTextSoFar: string; pendingChoiceId: string | null }
  | { type: 'assistant_delta'; text: string }
  | { type: 'thinking_delta'; text: string }
  | { type: 'tool_call'; toolUseId: string; tool: string; inputSummary?: string }
  | { type: 'tool_result'; toolUseId: string; ok: boolean }
  | { type: 'requires_choice'; choiceId: string; kind: 'permission'; payload: PermissionPayload }
  | { type: 'requires_choice'; choiceId: string; kind: 'question'; payload: QuestionPayload }
  | { type: 'choice_resolved'; choiceId: string; source: string }
  | { type: 'done'; turnId: string }
  | { type: 'interrupted'; turnId: string }
  | { type: 'error'; code: string; message: string; turnId?: string }
  | { type: 'ping' }
  /**
   * The server's raw SDK message, unstable ([SPEC]: bots ignore it). Its payload is not kept (most are
   * never even parsed): only a `result`'s usage, the one thing the bridge reads.
   */
  | {
      type: 'sdk_message';
      usage?: TurnUsage;
      /**
       * The text of a user message the loop just took in (the server's echo of it, contract §3.6): how a
       * client tells that a message it sent began being processed (joined the running turn, or started
       * its own). Absent for every other sdk_message, tool results included.
       */
      userText?: string;
    }
  | { type: 'unknown'; event: string; data: unknown }
  /**
   * Emitted by the client, never sent by the server: one event larger than the client's limit (`limit`
   * chars, ~1 MiB) was skipped and the stream went on. `event` is its name when seen, else ''.
   */
  | { type: 'oversized'; event: string; limit: number };

export type RequiresChoiceEvent = Extract<LoopEvent, { type: 'requires_choice' }>;

/** Events that end a POST /messages stream. */
export const TERMINAL_EVENTS = new Set<LoopEvent['type']>(['done', 'interrupted', 'error']);

/**
 * Emitted only by the turn follower (never by the server): part of the turn could not be recovered
 * after a stream cut, e.g. text produced while no stream was attached and no snapshot covered it.
 */
export interface GapEvent {
  type: 'gap';
  reason: string;
}

/** What the turn follower yields: server events plus its own gap marker. */
export type TurnEvent = LoopEvent | GapEvent;

/** Error envelope body for non-SSE failures. */
export interface ErrorEnvelope {
  error: { type: ErrorType; code: string; message: string };
}

export type ErrorType =
  | 'authentication_error'
  | 'permission_error'
  | 'invalid_request_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'rate_limit_error'
  | 'internal_error';

/** Every code the contract names ([IMPL] and [SPEC]). */
export const LOOP_ERROR_CODES = [
  'title_too_long',
  'metadata_too_large',
  'loop_archived',
  'content_too_large',
  'too_many_images',
  'image_data_invalid',
  'unsupported_media_type',
  'image_too_large',
  'missing_content',
  'idempotency_key_too_long',
  'invalid_choice_payload',
  'missing_credentials',
  'invalid_token',
  'not_loop_owner',
  'onboarding_incomplete',
  'loop_not_found',
  'choice_not_found',
  'token_not_found',
  'idempotency_key_reused',
  'too_many_requests',
  'sandbox_spawn_failed',
  'sandbox_evicted',
] as const;
export type LoopErrorCode = (typeof LOOP_ERROR_CODES)[number];
