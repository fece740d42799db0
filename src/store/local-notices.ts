// Notices within one process: what `notify`/`subscribe` mean for the embedded stores, where every
// subscriber lives in the process that writes.

import type { StoreNotice, Unsubscribe } from './store.js';

type Listener = (notice: StoreNotice) => void;

/** Channel → listeners; delivery is asynchronous (a microtask), like a database notification. */
export class LocalNotices {
  readonly #channels = new Map<string, Set<Listener>>();

  subscribe(channel: string, listener: Listener): Unsubscribe {
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, (set = new Set()));
    // Wrapped so the same function subscribed twice gets two deliveries and two unsubscribes.
    const entry: Listener = (notice) => listener(notice);
    set.add(entry);
    return async () => {
      set.delete(entry);
      if (set.size === 0 && this.#channels.get(channel) === set) this.#channels.delete(channel);
    };
  }

  /** Delivers `payload` to the channel's listeners subscribed when this is called. */
  publish(channel: string, payload: string): void {
    const set = this.#channels.get(channel);
    if (!set) return;
    const listeners = [...set];
    queueMicrotask(() => {
      // One unsubscribed in the meantime hears nothing more.
      for (const listener of listeners) if (set.has(listener)) deliver(listener, { kind: 'message', payload });
    });
  }

  clear(): void {
    this.#channels.clear();
  }
}

/** A listener that throws must not stop the others, nor the store. */
export function deliver(listener: Listener, notice: StoreNotice): void {
  try {
    listener(notice);
  } catch (error) {
    process.emitWarning(`a store notice listener threw: ${error instanceof Error ? error.message : String(error)}`, 'LoopbridgeStoreWarning');
  }
}
