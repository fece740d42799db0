// A terminal "platform": one direct conversation with the person at the keyboard. On a terminal the live
// reply is redrawn in place; piped, it reads one message per line and prints each reply once it is final.
// Choices are numbered text (capabilities.buttons = 'text'), answered by typing.

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type {
  AdapterCapabilities,
  BotIdentity,
  ChatAdapter,
  ConversationRef,
  InboundSink,
  MessageRef,
  OutboundMessage,
} from '../../src/core/adapter-types.js';
import { renderForTerminal } from './terminal-format.js';

export interface ConsoleAdapterOptions {
  input: Readable;
  output: Writable;
  /** Redraw live messages with ANSI escapes (default: output is a TTY). */
  interactive?: boolean;
  /** Who is typing; becomes the sender id `console:<user>`. Default 'you'. */
  user?: string;
  /**
   * Prefix of message ids. Line n gets `<session>-<n>`, so feeding the same input to a restarted daemon
   * with the same session is a redelivery (deduplicated). Default: unique per process.
   */
  session?: string;
  /** Print a `--- reply <id> ---` marker line before each final message (for scripts/tests). */
  markers?: boolean;
  /** Called after the input ended and every line was handed to the core. */
  onInputEnd?: () => void;
}

export const CONSOLE_CONVERSATION: ConversationRef = { platform: 'console', chatId: 'local', isDirect: true };

export class ConsoleAdapter implements ChatAdapter {
  readonly platform = 'console';
  readonly capabilities: AdapterCapabilities = {
    edit: true,
    maxTextLength: 100_000,
    measure: (md) => md.length,
    buttons: 'text',
    threads: false,
    drafts: false,
    editIntervalMs: { direct: 200, group: 200 },
    rate: { globalPerSecond: 1000, privateChatIntervalMs: 0, groupChatIntervalMs: 0, groupPerMinute: 0 },
  };
  private readonly interactive: boolean;
  private readonly session: string;
  /** Output message ids must differ between processes (a restarted daemon keeps editing old refs). */
  private readonly runId = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  private nextId = 1;
  private readonly texts = new Map<string, string>();
  /** Our message id → the user message it answers (shown in --markers output). */
  private readonly replyTo = new Map<string, string>();
  /** The block at the bottom of the screen (redrawable) and how many lines it took. */
  private bottom: { id: string; lines: number } | null = null;
  private rl: ReturnType<typeof createInterface> | null = null;

  constructor(private readonly options: ConsoleAdapterOptions) {
    this.interactive = options.interactive ?? Boolean((options.output as { isTTY?: boolean }).isTTY);
    this.session = options.session ?? `${process.pid}.${Date.now().toString(36)}`;
  }

  async start(sink: InboundSink, signal: AbortSignal): Promise<BotIdentity> {
    const rl = createInterface({ input: this.options.input, terminal: false });
    this.rl = rl;
    let line = 0;
    const user = this.options.user ?? 'you';
    // Lines are handed over strictly in order: the next waits until the previous is durably accepted.
    let chain = Promise.resolve();
    rl.on('line', (text) => {
      const n = ++line;
      this.bottom = null; // the user's typing moved the cursor
      chain = chain.then(() =>
        sink
          .accept({
            kind: 'message',
            conversation: CONSOLE_CONVERSATION,
            sender: { id: user, displayName: user, isBot: false },
            text,
            files: [],
            mentionsBot: false,
            replyToBot: false,
            // No `order`: line numbers restart with every session (the id carries the session), and a
            // terminal never redelivers, so the window alone is plenty.
            messageId: `${this.session}-${n}`,
          })
          .catch((err) => this.write(`[not accepted: ${String(err)}]\n`)),
      );
    });
    rl.on('close', () => void chain.then(() => this.options.onInputEnd?.()));
    signal.addEventListener('abort', () => rl.close(), { once: true });
    return { id: 'loopbridge', username: 'loopbridge', displayName: 'loopbridge' };
  }

  async stop(): Promise<void> {
    this.rl?.close();
  }

  async send(conversation: ConversationRef, message: OutboundMessage): Promise<MessageRef> {
    const id = `${this.runId}.m${this.nextId++}`;
    this.texts.set(id, message.text);
    if (message.replyTo) this.replyTo.set(id, message.replyTo);
    if (this.interactive) this.draw(id, message.text, true);
    else if (!message.live) this.print(id, message.text);
    return { conversation, messageId: id };
  }

  async edit(ref: MessageRef, message: OutboundMessage): Promise<void> {
    this.texts.set(ref.messageId, message.text);
    if (message.replyTo) this.replyTo.set(ref.messageId, message.replyTo);
    if (this.interactive) {
      if (this.bottom?.id === ref.messageId) this.draw(ref.messageId, message.text, false);
      else if (!message.live) this.draw(ref.messageId, message.text, true);
    } else if (!message.live) {
      this.print(ref.messageId, message.text);
    }
  }

  async delete(ref: MessageRef): Promise<void> {
    this.texts.delete(ref.messageId);
  }

  async finalized(ref: MessageRef, message: OutboundMessage): Promise<void> {
    if (message.replyTo) this.replyTo.set(ref.messageId, message.replyTo);
    if (this.interactive) {
      // An older block scrolled away can't be redrawn: show its final state anew.
      if (this.bottom?.id !== ref.messageId) this.draw(ref.messageId, message.text, true);
      this.bottom = null;
    } else {
      this.print(ref.messageId, message.text);
    }
  }

  private print(id: string, text: string): void {
    if (this.options.markers) {
      const to = this.replyTo.get(id);
      this.write(`--- reply ${id}${to ? ` to ${to}` : ''} ---\n`);
    }
    this.write(`${text}\n\n`);
  }

  private draw(id: string, markdown: string, fresh: boolean): void {
    const rendered = renderForTerminal(markdown);
    if (!fresh && this.bottom?.id === id) this.write(`\x1b[${this.bottom.lines}F\x1b[0J`);
    const block = `${rendered}\n`;
    this.write(block);
    const columns = (this.options.output as { columns?: number }).columns ?? 80;
    const lines = block.split('\n').slice(0, -1).reduce((n, l) => n + Math.max(1, Math.ceil(visibleWidth(l) / columns)), 0);
    this.bottom = { id, lines };
  }

  private write(s: string): void {
    this.options.output.write(s);
  }
}

function visibleWidth(line: string): number {
  // eslint-disable-next-line no-control-regex
  return [...line.replace(/\x1b\[[0-9;]*m/g, '')].length;
}
