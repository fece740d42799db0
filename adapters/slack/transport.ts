// Intake through Bolt's receivers: Socket Mode (SocketModeReceiver: apps.connections.open, hello, pings,
// reconnects on `disconnect` and dropped sockets) or HTTP (HTTPReceiver: signature and timestamp checks,
// url_verification). Bolt's App is not used: App.processEvent acknowledges every Events API request before
// any listener runs, and an event must be acknowledged only once the core has durably accepted it — an
// event never acknowledged is redelivered by Slack with retry_attempt, which the core deduplicates. Button
// presses are acknowledged on receipt (the core answers them in the background).
import { HTTPReceiver, LogLevel, SocketModeReceiver, type App, type Logger, type ReceiverEvent } from '@slack/bolt';
import { boundAddress, closeServer } from '../shared/http-server.js';
import type { SlackLog } from './slack-adapter.js';

/** Hands one event_callback body over; resolves once accepted, rejects to leave it unacknowledged. */
export type EventHandler = (body: Record<string, unknown>, retry: { num?: number; reason?: string }) => Promise<void>;
/** Hands one interactive payload (block_actions) over. */
export type ActionHandler = (payload: Record<string, unknown>) => Promise<void>;

export interface TransportHandlers {
  onEvent: EventHandler;
  onAction: ActionHandler;
}

/** A Bolt-shaped logger writing to the adapter's log; Bolt's debug chatter (payloads) stays at debug. */
export function boltLogger(log: SlackLog): Logger {
  let level: ReturnType<Logger['getLevel']> = LogLevel.INFO;
  const text = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : String(m))).join(' ');
  return {
    debug: (...msg) => log.debug({}, `slack: ${text(msg)}`),
    info: (...msg) => log.debug({}, `slack: ${text(msg)}`),
    warn: (...msg) => log.warn({}, `slack: ${text(msg)}`),
    error: (...msg) => log.warn({}, `slack: ${text(msg)}`),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** Routes what a receiver hands to "its app": accept first, acknowledge after. */
function dispatcher(handlers: TransportHandlers, log: SlackLog): App {
  const processEvent = async (event: ReceiverEvent): Promise<void> => {
    const body = event.body as Record<string, unknown>;
    if (body.type === 'event_callback') {
      // A rejection propagates: the receiver leaves the event unacknowledged and Slack redelivers it.
      await handlers.onEvent(body, { num: event.retryNum, reason: event.retryReason });
      await ack(event);
      return;
    }
    await ack(event);
    if (body.type === 'block_actions') await handlers.onAction(body).catch((err: unknown) => log.warn({ err: String(err) }, 'slack: a button press could not be handed over'));
  };
  const ack = (event: ReceiverEvent) =>
    Promise.resolve(event.ack()).catch((err: unknown) => {
      // The socket closed between accept and ack: Slack redelivers on the next connection (deduplicated).
      log.debug({ err: String(err) }, 'slack: acknowledgement not sent');
    });
  return { processEvent } as unknown as App;
}

export interface SocketTransportOptions {
  appToken: string;
  apiUrl: string;
  log: SlackLog;
  /** Pause before a reconnect (socket-mode's clientPingTimeout), ms; default 5000. */
  reconnectDelayMs?: number;
}

export class SocketTransport {
  private readonly receiver: SocketModeReceiver;

  constructor(options: SocketTransportOptions, handlers: TransportHandlers) {
    const logger = boltLogger(options.log);
    this.receiver = new SocketModeReceiver({
      appToken: options.appToken,
      logger,
      logLevel: LogLevel.INFO,
      clientPingTimeout: options.reconnectDelayMs ?? 5000,
      // Network failures of apps.connections.open are retried without end: socket-mode treats them as fatal
      // during a reconnect and would reject unhandled (the process would die on a network blip). Start-up
      // problems surface before this (auth.test with the bot token; a refused app token is not retried).
      installerOptions: { clientOptions: { slackApiUrl: options.apiUrl, retryConfig: { retries: 10, forever: true, factor: 2, minTimeout: 500, maxTimeout: 30_000 } } },
      // Not acknowledging is the point (the core refused or failed): Slack will try again.
      processEventErrorHandler: async ({ error }) => {
        options.log.debug({ err: String(error) }, 'slack: event not accepted; left for Slack to redeliver');
        return false;
      },
    });
    this.receiver.init(dispatcher(handlers, options.log));
  }

  /** Opens the connection; resolves once Slack said hello. */
  async start(): Promise<void> {
    await this.receiver.start();
  }

  async stop(): Promise<void> {
    // Bolt's stop() does not wait for the socket to close; the client's disconnect() does.
    await Promise.race([this.receiver.client.disconnect(), new Promise((r) => setTimeout(r, 3000).unref())]);
  }
}

export interface HttpTransportOptions {
  signingSecret: string;
  port: number;
  host: string;
  log: SlackLog;
}

/** Where HTTP mode takes requests. */
export const EVENTS_PATH = '/slack/events';

export class HttpTransport {
  private readonly receiver: HTTPReceiver;
  private server: import('node:http').Server | undefined;

  constructor(private readonly options: HttpTransportOptions, handlers: TransportHandlers) {
    const logger = boltLogger(options.log);
    this.receiver = new HTTPReceiver({
      signingSecret: options.signingSecret,
      endpoints: [EVENTS_PATH],
      logger,
      logLevel: LogLevel.INFO,
      processBeforeResponse: false,
      // Slack waits 3 s; answer just before so a slow intake gets a retry instead of a hung request.
      unhandledRequestTimeoutMillis: 2800,
      unhandledRequestHandler: ({ response }) => {
        options.log.warn({}, 'slack: an event was not accepted within 3 s; Slack will redeliver it (deduplicated)');
        if (!response.headersSent) response.writeHead(503).end();
      },
      processEventErrorHandler: async ({ error, response }) => {
        options.log.debug({ err: String(error) }, 'slack: event not accepted; answered 503 so Slack redelivers it');
        if (!response.headersSent) response.writeHead(503).end();
        return false;
      },
    });
    this.receiver.init(dispatcher(handlers, options.log));
  }

  /** The bound address once listening (useful when port was 0). */
  address(): { address: string; port: number } | undefined {
    return boundAddress(this.server);
  }

  async start(): Promise<void> {
    this.server = (await this.receiver.start({ port: this.options.port, host: this.options.host })) as import('node:http').Server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }
}
