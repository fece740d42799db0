// The state method handlers share, and the shape of a handler.
import type { ChatStore } from './chat-store.js';
import type { Params } from './params.js';
import type { UploadedFile } from './request-body.js';
import type { FakeUser } from './types.js';
import type { UpdateQueue } from './update-queue.js';
import type { WebhookDelivery } from './webhook-delivery.js';

export interface FakeState {
  /** The bot as a User object (is_bot: true). */
  bot: FakeUser & { is_bot: true };
  store: ChatStore;
  queue: UpdateQueue;
  webhook: WebhookDelivery;
  /** Unix seconds from the fake's clock. */
  nowSeconds(): number;
  /** Callback query ids pressed and not yet answered. */
  openCallbacks: Set<string>;
  callbackAnswers: Map<string, { text?: string; show_alert?: boolean }>;
  drafts: Array<{ chat_id: number; draft_id: number; text: string }>;
  /** Bot command lists by scope + language. */
  commands: Map<string, unknown[]>;
}

export interface MethodCall {
  params: Params;
  files: Map<string, UploadedFile>;
  /** Aborted when the client goes away (ends a long poll early). */
  signal: AbortSignal;
}

/** Returns the `result`, or throws an ApiError. */
export type Handler = (s: FakeState, call: MethodCall) => unknown;
