// Wire event (name + JSON text) → typed LoopEvent. Accepts both the [IMPL] and the [SPEC] payload shapes.
// Never throws: anything that does not fit the contract becomes {type:'unknown', event, data}.

import type {
  LoopEvent,
  PermissionPayload,
  Question,
  QuestionOption,
  TurnUsage,
} from './types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

/** `"type":"result"` anywhere in the raw text: only then is an sdk_message worth parsing for usage. */
const RESULT_TYPE = /"type"\s*:\s*"result"/;
/** A user message (the echo of one the loop took in, or tool results: those are told apart after parsing). */
const USER_TYPE = /"type"\s*:\s*"user"/;
const SDK_MESSAGE: LoopEvent = Object.freeze({ type: 'sdk_message' });

/** Parses `data` as JSON and maps it; invalid JSON gives `unknown` with the raw string as data. */
export function parseEvent(name: string | undefined, data: string): LoopEvent {
  const event = name ?? 'message';
  // About half of a turn's events are sdk_messages, some large (tool results); parsing them all was most of
  // the client's garbage. Only a `result` carries something the bridge uses (usage).
  if (event === 'sdk_message' && !RESULT_TYPE.test(data) && !(USER_TYPE.test(data) && !data.includes('"tool_result"'))) return SDK_MESSAGE;
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { type: 'unknown', event, data };
  }
  return toLoopEvent(event, json);
}

/** Maps an already-parsed payload; returns `unknown` for unknown names or missing required fields. */
export function toLoopEvent(event: string, data: unknown): LoopEvent {
  const unknown: LoopEvent = { type: 'unknown', event, data };
  if (!isObj(data)) return unknown;
  switch (event) {
    case 'assistant_delta':
    case 'thinking_delta': {
      const text = str(data.text);
      return text === undefined ? unknown : { type: event, text };
    }
    case 'ping':
      return { type: 'ping' };
    case 'sdk_message': {
      if (data.type === 'user') {
        const userText = userEcho(data);
        return userText === undefined ? { type: 'sdk_message' } : { type: 'sdk_message', userText };
      }
      const usage = data.type === 'result' ? extractUsage(data) : undefined;
      return usage ? { type: 'sdk_message', usage } : { type: 'sdk_message' };
    }
    case 'tool_call': {
      const toolUseId = str(data.tool_use_id);
      if (toolUseId === undefined) return unknown;
      const inputSummary = str(data.input_summary);
      const base = { type: 'tool_call' as const, toolUseId, tool: str(data.tool) ?? 'unknown' };
      return inputSummary === undefined ? base : { ...base, inputSummary };
    }
    case 'tool_result': {
      const toolUseId = str(data.tool_use_id);
      const ok = bool(data.ok);
      return toolUseId === undefined || ok === undefined ? unknown : { type: 'tool_result', toolUseId, ok };
    }
    case 'done':
    case 'interrupted': {
      // turn_id is informational only ([IMPL] it may be random); a missing one is tolerated.
      return { type: event, turnId: str(data.turn_id) ?? '' };
    }
    case 'error': {
      const code = str(data.code) ?? 'unknown_error';
      const message = str(data.message) ?? '';
      const turnId = str(data.turn_id);
      return turnId === undefined ? { type: 'error', code, message } : { type: 'error', code, message, turnId };
    }
    case 'started': {
      const turnId = str(data.turn_id);
      return turnId === undefined ? unknown : { type: 'started', turnId, coldStart: bool(data.cold_start) ?? false };
    }
    case 'queued': {
      const position = num(data.position);
      return position === undefined ? unknown : { type: 'queued', position };
    }
    case 'snapshot': {
      const turnId = str(data.turn_id);
      const text = str(data.assistant_text_so_far);
      if (turnId === undefined || text === undefined) return unknown;
      return { type: 'snapshot', turnId, assistantTextSoFar: text, pendingChoiceId: str(data.pending_choice_id) ?? null };
    }
    case 'choice_resolved': {
      const choiceId = str(data.choice_id);
      return choiceId === undefined ? unknown : { type: 'choice_resolved', choiceId, source: str(data.source) ?? 'api' };
    }
    case 'requires_choice':
      return requiresChoice(data) ?? unknown;
    default:
      return unknown;
  }
}

function requiresChoice(data: Obj): LoopEvent | undefined {
  const choiceId = str(data.choice_id);
  if (choiceId === undefined || !isObj(data.payload)) return undefined;
  const p = data.payload;
  if (data.kind === 'permission') {
    const tool = str(p.tool);
    if (tool === undefined) return undefined;
    const payload: PermissionPayload = { tool };
    for (const k of ['title', 'display_name', 'command', 'reason'] as const) {
      const v = str(p[k]);
      if (v !== undefined) payload[k] = v;
    }
    return { type: 'requires_choice', choiceId, kind: 'permission', payload };
  }
  if (data.kind === 'question') {
    if (!Array.isArray(p.questions)) return undefined;
    const questions: Question[] = [];
    for (const q of p.questions) {
      const n = normaliseQuestion(q);
      if (!n) return undefined;
      questions.push(n);
    }
    return { type: 'requires_choice', choiceId, kind: 'question', payload: { questions } };
  }
  return undefined;
}

/** [IMPL] {question, header, options[{label,description}], multiSelect}; [SPEC] {id, question, options (strings|objects), multi_select}. */
function normaliseQuestion(q: unknown): Question | undefined {
  if (!isObj(q)) return undefined;
  const question = str(q.question);
  if (question === undefined) return undefined;
  const options: QuestionOption[] = [];
  if (Array.isArray(q.options)) {
    for (const o of q.options) {
      if (typeof o === 'string') options.push({ label: o });
      else if (isObj(o) && typeof o.label === 'string') {
        const d = str(o.description);
        options.push(d === undefined ? { label: o.label } : { label: o.label, description: d });
      } else return undefined;
    }
  }
  const out: Question = { question, options, multiSelect: bool(q.multiSelect) ?? bool(q.multi_select) ?? false };
  const id = str(q.id);
  if (id !== undefined) out.id = id;
  const header = str(q.header);
  if (header !== undefined) out.header = header;
  return out;
}

/**
 * The text of an SDK `user` message that echoes a message the loop took in: `message.content` as a string,
 * or its text blocks joined. Undefined for tool results (and anything else without text).
 */
function userEcho(data: Obj): string | undefined {
  const message = isObj(data.message) ? data.message : undefined;
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  let text: string | undefined;
  for (const block of content) {
    if (!isObj(block)) continue;
    if (block.type === 'tool_result') return undefined;
    if (block.type === 'text' && typeof block.text === 'string') text = (text ?? '') + block.text;
  }
  return text;
}

/**
 * Usage and cost from an SDK `result` message. Token counts come from `usage` (snake_case) and, where
 * that is absent, from the sum over `modelUsage` (camelCase, per model). Undefined when nothing is there
 * (the synthetic `{type:"result"}` after an error or interrupt).
 */
export function extractUsage(result: Obj): TurnUsage | undefined {
  const u: TurnUsage = {};
  const usage = isObj(result.usage) ? result.usage : undefined;
  const fromUsage: [keyof TurnUsage, string][] = [
    ['inputTokens', 'input_tokens'],
    ['outputTokens', 'output_tokens'],
    ['cacheReadInputTokens', 'cache_read_input_tokens'],
    ['cacheCreationInputTokens', 'cache_creation_input_tokens'],
  ];
  if (usage) for (const [k, w] of fromUsage) setNum(u, k, num(usage[w]));
  if (isObj(result.modelUsage)) {
    const sums: Partial<Record<keyof TurnUsage, number>> = {};
    for (const m of Object.values(result.modelUsage)) {
      if (!isObj(m)) continue;
      for (const k of ['inputTokens', 'outputTokens', 'cacheReadInputTokens', 'cacheCreationInputTokens'] as const) {
        const v = num(m[k]);
        if (v !== undefined) sums[k] = (sums[k] ?? 0) + v;
      }
    }
    for (const [k, v] of Object.entries(sums) as [keyof TurnUsage, number][]) if (u[k] === undefined) setNum(u, k, v);
  }
  setNum(u, 'totalCostUsd', num(result.total_cost_usd));
  setNum(u, 'numTurns', num(result.num_turns));
  setNum(u, 'durationMs', num(result.duration_ms));
  const isError = bool(result.is_error);
  if (isError !== undefined) u.isError = isError;
  const subtype = str(result.subtype);
  if (subtype !== undefined) u.subtype = subtype;
  return Object.keys(u).length > 0 ? u : undefined;
}

function setNum(u: TurnUsage, k: keyof TurnUsage, v: number | undefined): void {
  if (v !== undefined) (u as Record<string, unknown>)[k] = v;
}
