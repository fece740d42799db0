// Shared pieces of the Telegram adapter tests: a recording sink, an adapter bound to the fake, an error catcher.
import type { InboundEvent, InboundSink } from '../../../src/core/adapter-types.js';
import { TelegramAdapter, type TelegramAdapterOptions } from '../../../adapters/telegram/index.js';
import type { FakeTelegram } from '../../peers/fake-telegram.js';

/** Records accepted events; `gate` can delay or refuse an event (return a promise that rejects to refuse). */
export class RecordingSink implements InboundSink {
  readonly events: InboundEvent[] = [];
  /** Every accept() call, including refused ones, in call order. */
  readonly offered: InboundEvent[] = [];
  constructor(private readonly gate?: (e: InboundEvent) => Promise<void> | void) {}

  async accept(event: InboundEvent): Promise<void> {
    this.offered.push(event);
    await this.gate?.(event);
    this.events.push(event);
  }

  texts(): string[] {
    return this.events.flatMap((e) => (e.kind === 'message' ? [e.text] : []));
  }
}

export function adapterFor(fake: FakeTelegram, extra: Partial<TelegramAdapterOptions> = {}): TelegramAdapter {
  return new TelegramAdapter({ token: fake.token, apiRoot: fake.apiRoot, pollTimeoutSec: 1, ...extra });
}

/** The rejection of a promise (fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  const outcome = await p.then(
    () => ({ ok: true as const }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (outcome.ok) throw new Error('expected a rejection');
  return outcome.e as Error;
}

/** Every string an error exposes: message, name, stack, and its cause chain. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof Error) {
      parts.push(e.name, e.message, e.stack ?? '');
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}
