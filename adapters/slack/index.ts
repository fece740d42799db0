// Public surface of the Slack adapter.
export { SlackAdapter, SlackStartupError, DEFAULT_SLACK_RATE, DEFAULT_API_URL, type SlackAdapterOptions, type SlackLog } from './slack-adapter.js';
export type { SlackStartupCode } from './errors.js';
export type { ThreadMemory } from './send.js';
export { InMemoryThreads, StateThreads, THREAD_MEMORY_TTL_MS } from './thread-memory.js';
export { parseMessageEvent, parseBlockActions, SLACK_PLATFORM, TAKEN_SUBTYPES } from './parse.js';
export { markdownToMrkdwn, measureSlack, SLACK_MAX_TEXT } from './format.js';
export { MAX_BUTTONS } from './blocks.js';
export { EVENTS_PATH } from './transport.js';
