// Maps one session broadcast (an SDK-shaped message) to v1 SSE events, as the real server's
// mapSdkMessageToV1 does (§4.2). Tracker side effects are applied by the session, per listener.
import type { BufferedEvent } from './idempotency.js';

/** What a LoopSession broadcasts to its listeners. */
export type SessionMessage =
  /** An SDK or loopat-internal message: written as `sdk_message`, then its mapped events. */
  | { kind: 'sdk'; payload: Record<string, unknown> }
  /** Pushed straight to listeners by the API layer (no `sdk_message`): choice_resolved, interrupted. */
  | { kind: 'synthetic'; event: string; data: Record<string, unknown> }
  /** A scripted event written verbatim (unknown-event tests). */
  | { kind: 'raw'; event: string; data: unknown };

export interface MappedSdk {
  /** Events that do not depend on the listener. */
  events: BufferedEvent[];
  /** Text to append to the tracker (assistant_delta). */
  delta?: string;
  /** A `result` message: the listener gets `done` with a turn ID from the tracker. */
  done?: boolean;
  /** A `requires_choice` was produced with this choice ID. */
  choiceId?: string;
}

const SUMMARY_KEYS = ['command', 'file_path', 'path', 'query', 'url'] as const;

function inputSummary(input: unknown): string | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  for (const k of SUMMARY_KEYS) {
    const v = (input as Record<string, unknown>)[k];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function blocks(payload: Record<string, unknown>): Array<Record<string, unknown>> {
  const msg = payload.message as { content?: unknown } | undefined;
  return Array.isArray(msg?.content) ? (msg.content as Array<Record<string, unknown>>) : [];
}

export function mapSdk(p: Record<string, unknown>): MappedSdk {
  switch (p.type) {
    case 'stream_event': {
      const delta = (p.event as { delta?: { type?: string; text?: unknown } } | undefined)?.delta;
      if (delta?.type === 'text_delta' && typeof delta.text === 'string')
        return { events: [{ event: 'assistant_delta', data: { text: delta.text } }], delta: delta.text };
      if (delta?.type === 'thinking_delta' && typeof delta.text === 'string')
        return { events: [{ event: 'thinking_delta', data: { text: delta.text } }] };
      return { events: [] };
    }
    case 'assistant':
      return {
        events: blocks(p)
          .filter((b) => b.type === 'tool_use')
          .map((b) => ({
            event: 'tool_call',
            // JSON.stringify drops an undefined input_summary, so the key is absent as on the real server.
            data: { tool_use_id: b.id, tool: typeof b.name === 'string' ? b.name : 'unknown', input_summary: inputSummary(b.input) },
          })),
      };
    case 'user':
      return {
        events: blocks(p)
          .filter((b) => b.type === 'tool_result')
          .map((b) => ({ event: 'tool_result', data: { tool_use_id: b.tool_use_id, ok: b.is_error !== true } })),
      };
    case 'permission_prompt': {
      const tool = String(p.tool_name);
      const choiceId = `choice_${String(p.tool_use_id)}`;
      const payload = {
        tool,
        title: typeof p.title === 'string' ? p.title : `Claude wants to use ${tool}`,
        display_name: typeof p.displayName === 'string' ? p.displayName : tool,
      };
      return { events: [{ event: 'requires_choice', data: { choice_id: choiceId, kind: 'permission', payload } }], choiceId };
    }
    case 'question': {
      const choiceId = `choice_${String(p.tool_use_id)}`;
      return {
        events: [{ event: 'requires_choice', data: { choice_id: choiceId, kind: 'question', payload: { questions: p.questions } } }],
        choiceId,
      };
    }
    case 'result':
      return { events: [], done: true };
    case 'error':
      return { events: [{ event: 'error', data: { code: 'agent_error', message: String(p.message ?? 'agent error') } }] };
    default:
      return { events: [] };
  }
}
