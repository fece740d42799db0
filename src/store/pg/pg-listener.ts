// LISTEN side of notifications: one dedicated connection (a pooled one would be handed to others),
// opened on the first subscribe, LISTENing to every channel that has subscribers. When it is lost it
// reconnects with backoff, LISTENs again and tells every subscriber `resync` (notices sent while it
// was down are gone; PostgreSQL does not keep them).

import pg from 'pg';
import { deliver } from '../local-notices.js';
import type { StoreNotice, Unsubscribe } from '../store.js';

type Listener = (notice: StoreNotice) => void;

/** Options of a `PgListener`. */
export interface PgListenerOptions {
  /** How to connect (the store's pool settings). */
  client: pg.ClientConfig;
  /** First reconnect delay, ms; doubles up to `maxRetryMs`. Default 100. */
  minRetryMs?: number;
  /** Longest reconnect delay, ms. Default 5000. */
  maxRetryMs?: number;
  /** Told about a lost connection and reconnects. */
  onWarning: (message: string) => void;
}

/** The subscriptions of one store; see the file comment. */
export class PgListener {
  readonly #options: PgListenerOptions;
  readonly #channels = new Map<string, Set<Listener>>();
  #client: pg.Client | undefined;
  /** Channels LISTENed on the current connection. */
  #listening = new Set<string>();
  #connecting: Promise<pg.Client> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs: number;
  #closed = false;

  constructor(options: PgListenerOptions) {
    this.#options = options;
    this.#retryMs = options.minRetryMs ?? 100;
  }

  /** Why notices cannot arrive now, or undefined (also when nobody subscribes). */
  problem(): string | undefined {
    if (this.#channels.size === 0 || this.#client) return undefined;
    return 'the notification connection is down; reconnecting';
  }

  /** Resolves once LISTENing on `channel`; rejects (and forgets the listener) if that fails. */
  async subscribe(channel: string, listener: Listener): Promise<Unsubscribe> {
    let set = this.#channels.get(channel);
    if (!set) this.#channels.set(channel, (set = new Set()));
    const entry: Listener = (notice) => listener(notice);
    set.add(entry);
    const unsubscribe = async (): Promise<void> => {
      set.delete(entry);
      if (set.size > 0 || this.#channels.get(channel) !== set) return;
      this.#channels.delete(channel);
      const client = this.#client;
      if (client && this.#listening.delete(channel)) await client.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => {});
    };
    try {
      const client = await this.#connection();
      if (!this.#listening.has(channel)) {
        await client.query(`listen ${pg.escapeIdentifier(channel)}`);
        if (this.#client === client) this.#listening.add(channel);
      }
    } catch (error) {
      await unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#channels.clear();
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #connection(): Promise<pg.Client> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<pg.Client> {
    const client = new pg.Client(this.#options.client);
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    client.on('notification', (n) => this.#dispatch(n.channel, n.payload ?? ''));
    try {
      await client.connect();
      const channels = [...this.#channels.keys()];
      for (const channel of channels) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      if (this.#closed) throw new Error('store closed');
      this.#client = client;
      this.#listening = new Set(channels);
      this.#retryMs = this.#options.minRetryMs ?? 100;
      return client;
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
  }

  #dispatch(channel: string, payload: string): void {
    for (const listener of [...(this.#channels.get(channel) ?? [])]) deliver(listener, { kind: 'message', payload });
  }

  #lost(client: pg.Client, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#listening = new Set();
    if (this.#closed) return;
    this.#options.onWarning(`store notifications connection lost${error ? ` (${error.message})` : ''}; reconnecting`);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#retryTimer || this.#channels.size === 0) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connection().then(
        () => {
          this.#options.onWarning('store notifications connection is back; subscribers resync');
          for (const set of [...this.#channels.values()]) for (const listener of [...set]) deliver(listener, { kind: 'resync' });
        },
        () => {
          this.#retryMs = Math.min(this.#retryMs * 2, this.#options.maxRetryMs ?? 5000);
          this.#scheduleReconnect();
        },
      );
    }, this.#retryMs);
    // Reconnecting must never keep a finished process alive.
    this.#retryTimer.unref();
  }
}
