// An in-process chat platform for core tests and benchmarks: it records every outbound call with its
// time, keeps each message's current text, and lets a test inject messages and presses. It can be
// told to answer 429s, to fail, or to be slow, like a real platform under pressure.

import {
  PlatformError,
  PlatformRateLimitError,
  type AdapterCapabilities,
  type BotIdentity,
  type ChatAdapter,
  type ConversationRef,
  type InboundEvent,
  type InboundSink,
  type MessageRef,
  type OutboundMessage,
} from '../../src/core/adapter-types.js';

export interface RecordedMessage {
  id: string;
  conversation: ConversationRef;
  text: string;
  buttons?: OutboundMessage['buttons'];
  edits: number;
  finalized: boolean;
  deleted: boolean;
  sentAt: number;
  /** Times at which the text changed (send and each edit). */
  history: Array<{ at: number; text: string }>;
}

export interface RecordedCall {
  method: 'send' | 'edit' | 'delete' | 'typing' | 'answerPress' | 'draft' | 'fetchFile';
  chatId: string;
  at: number;
  messageId?: string;
  notice?: string;
}

export interface RecordingOptions {
  platform?: string;
  capabilities?: Partial<AdapterCapabilities>;
  /** Simulated latency of each call, ms. Default 0. */
  latencyMs?: number;
}

export class RecordingAdapter implements ChatAdapter {
  readonly platform: string;
  readonly capabilities: AdapterCapabilities;
  readonly messages = new Map<string, RecordedMessage>();
  readonly calls: RecordedCall[] = [];
  readonly pressAnswers: Array<{ pressId: string; notice?: string }> = [];
  /** Draft previews shown (only used when capabilities.drafts is set). */
  readonly drafts: Array<{ chatId: string; draftId: number; text: string }> = [];
  private sink: InboundSink | null = null;
  private seq = 0;
  private faults: Array<{ method: RecordedCall['method']; error: Error }> = [];
  /** Methods whose calls never answer (a platform that hangs), ignoring the abort signal as a stuck socket would. */
  private readonly hanging = new Set<RecordedCall['method']>();
  private readonly held = new Map<RecordedCall['method'], Promise<void>>();
  readonly bot: BotIdentity = { id: 'bot', username: 'testbot', displayName: 'Test Bot' };

  constructor(private readonly options: RecordingOptions = {}) {
    this.platform = options.platform ?? 'test';
    this.capabilities = {
      edit: true,
      maxTextLength: 4000,
      measure: (md) => md.length,
      buttons: 'native',
      threads: true,
      drafts: false,
      editIntervalMs: { direct: 50, group: 50 },
      rate: { globalPerSecond: 1000, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0 },
      ...options.capabilities,
    };
  }

  async start(sink: InboundSink): Promise<BotIdentity> {
    this.sink = sink;
    return this.bot;
  }

  async stop(): Promise<void> {
    this.sink = null;
  }

  /** Injects an inbound event as the platform would; resolves when the core durably accepted it. */
  async inject(event: InboundEvent): Promise<void> {
    if (!this.sink) throw new Error('adapter not started');
    await this.sink.accept(event);
  }

  /** Drops the faults not yet used (the platform is back). */
  clearFaults(): void {
    this.faults = [];
  }

  /** From now on every call of these methods hangs: it never resolves nor rejects, whatever the signal says. */
  hang(...methods: RecordedCall['method'][]): void {
    for (const m of methods) this.hanging.add(m);
  }

  /** From now on calls of `method` wait until the returned function is called (then they go on). */
  hold(method: RecordedCall['method']): () => void {
    let release!: () => void;
    this.held.set(method, new Promise<void>((r) => (release = r)));
    return () => {
      this.held.delete(method);
      release();
    };
  }

  /** The next call of `method` fails with `error` (e.g. a PlatformRateLimitError). */
  failNext(method: RecordedCall['method'], error: Error, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push({ method, error });
  }

  async send(conversation: ConversationRef, message: OutboundMessage): Promise<MessageRef> {
    await this.call('send', conversation.chatId);
    const id = `m${++this.seq}`;
    const now = Date.now();
    this.messages.set(id, {
      id,
      conversation,
      text: message.text,
      buttons: message.buttons,
      edits: 0,
      finalized: false,
      deleted: false,
      sentAt: now,
      history: [{ at: now, text: message.text }],
    });
    this.calls[this.calls.length - 1].messageId = id;
    return { conversation, messageId: id };
  }

  async edit(ref: MessageRef, message: OutboundMessage): Promise<void> {
    await this.call('edit', ref.conversation.chatId, ref.messageId);
    const m = this.messages.get(ref.messageId);
    if (!m || m.deleted) throw new PlatformError('message to edit not found', 400, true);
    m.text = message.text;
    m.buttons = message.buttons;
    m.edits++;
    m.history.push({ at: Date.now(), text: message.text });
  }

  async delete(ref: MessageRef): Promise<void> {
    await this.call('delete', ref.conversation.chatId, ref.messageId);
    const m = this.messages.get(ref.messageId);
    if (m) m.deleted = true;
  }

  async typing(conversation: ConversationRef): Promise<void> {
    await this.call('typing', conversation.chatId);
  }

  async draft(conversation: ConversationRef, draftId: number, text: string): Promise<void> {
    await this.call('draft', conversation.chatId);
    this.drafts.push({ chatId: conversation.chatId, draftId, text });
  }

  /** Files a test put up for download: ref → bytes (a missing ref is a permanent "file not found"). */
  readonly files = new Map<string, Buffer>();

  async fetchFile(ref: string): Promise<Buffer> {
    await this.call('fetchFile', '');
    const bytes = this.files.get(ref);
    if (!bytes) throw new PlatformError(`file ${ref} not found`, 400, true);
    return bytes;
  }

  async answerPress(press: { pressId: string }, notice: string | undefined): Promise<void> {
    this.pressAnswers.push({ pressId: press.pressId, notice });
  }

  async finalized(ref: MessageRef): Promise<void> {
    const m = this.messages.get(ref.messageId);
    if (m) m.finalized = true;
  }

  /** Messages in a chat, in send order (not deleted). */
  chat(chatId: string): RecordedMessage[] {
    return [...this.messages.values()].filter((m) => m.conversation.chatId === chatId && !m.deleted);
  }

  /** Simulates a user deleting a bot message. */
  userDeletes(messageId: string): void {
    const m = this.messages.get(messageId);
    if (m) m.deleted = true;
  }

  private async call(method: RecordedCall['method'], chatId: string, messageId?: string): Promise<void> {
    this.calls.push({ method, chatId, at: Date.now(), messageId });
    if (this.hanging.has(method)) await new Promise<never>(() => {});
    await this.held.get(method);
    if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
    const i = this.faults.findIndex((f) => f.method === method);
    if (i >= 0) {
      const [f] = this.faults.splice(i, 1);
      throw f.error;
    }
  }
}

export { PlatformRateLimitError, PlatformError };
