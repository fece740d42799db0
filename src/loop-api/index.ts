// Public surface of the Loop API v1 client.
export * from './types.js';
export * from './errors.js';
export { DEFAULT_RETRY, backoffDelay, resolveRetryPolicy, sleep, withRetry } from './retry.js';
export type { RetryPolicy, WithRetryOptions } from './retry.js';
export { SseDecoder, decodeSse, MAX_SSE_EVENT_CHARS } from './sse.js';
export { parseEvent, toLoopEvent, extractUsage } from './events.js';
export { LoopClient } from './client.js';
export type { LoopClientOptions, LoopClientLogger, CallOptions, CreateLoopOptions, SendMessageOptions, WatchOptions } from './client.js';
export { followTurn, followWatch, resumeTurn } from './follower.js';
export type { FollowOptions, OpenWatch } from './follower.js';
export { steerTurn } from './steer.js';
export type { SteerOptions, SteerOutcome } from './steer.js';
