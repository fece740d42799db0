// Webhook mode: Telegram POSTs each update to us. The answer is 200 only once the core accepted the update;
// anything else makes Telegram keep it and post it again later, which is the redelivery the core dedupes.
// Requests without the exact secret header are refused before their body is even read.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Api } from 'grammy';
import { GrammyError } from 'grammy';
import type { Update } from 'grammy/types';
import { boundAddress, closeServer } from '../shared/http-server.js';
import { forGrammy, scrubToken, TelegramStartupError } from './errors.js';
import type { TelegramLog } from './telegram-adapter.js';
import { ALLOWED_UPDATES } from './transport-polling.js';

/** Largest update body accepted, bytes (real updates are a few KB). */
const MAX_BODY_BYTES = 1024 * 1024;
const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/** Where Telegram posts and where we listen. */
export interface TelegramWebhookOptions {
  /** Public HTTPS URL given to setWebhook. */
  url: string;
  /** Echoed by Telegram in X-Telegram-Bot-Api-Secret-Token; 1–256 of A-Za-z0-9_-. */
  secretToken: string;
  /** Local listen port (0 = any free port). */
  port: number;
  /** Local listen address, e.g. 127.0.0.1 behind a reverse proxy. */
  host: string;
  /** Request path accepted, e.g. /telegram. */
  path: string;
}

export interface WebhookTransportOptions {
  api: Api;
  /** Only to scrub it from errors. */
  token: string;
  webhook: TelegramWebhookOptions;
  log: TelegramLog;
  /** Hands one update over; resolves once accepted. */
  handle(update: Update): Promise<void>;
}

function secretMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class WebhookTransport {
  private server: Server | undefined;

  constructor(private readonly options: WebhookTransportOptions) {}

  /** The bound address once listening (useful when port was 0). */
  address(): { address: string; port: number } | undefined {
    return boundAddress(this.server);
  }

  /** Listens first, then registers the webhook, so the first POST finds us. */
  async start(signal: AbortSignal): Promise<void> {
    const { api, webhook, token } = this.options;
    const server = createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        this.options.log.warn({ err: scrubToken(String(err), token) }, 'telegram webhook: request failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(webhook.port, webhook.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = undefined;
      throw new TelegramStartupError('webhook', `cannot listen for the Telegram webhook on ${webhook.host}:${webhook.port}: ${(err as Error).message}`);
    }
    try {
      await api.setWebhook(webhook.url, { secret_token: webhook.secretToken, allowed_updates: [...ALLOWED_UPDATES] }, forGrammy(signal));
    } catch (err) {
      await this.stop();
      const why = err instanceof GrammyError ? err.description : err instanceof Error ? err.message : String(err);
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        throw new TelegramStartupError('unauthorized', `telegram.token was refused by Telegram (${err.error_code}): check the token from @BotFather`);
      }
      throw new TelegramStartupError('webhook', `setWebhook failed for telegram.webhook.url: ${scrubToken(why, token)}`);
    }
  }

  /** Stops listening; the webhook stays registered so Telegram keeps updates until we are back. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { webhook, log } = this.options;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== webhook.path) return void res.writeHead(404).end();
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    if (!secretMatches(req.headers[SECRET_HEADER], webhook.secretToken)) {
      log.warn({ remote: req.socket.remoteAddress }, 'telegram webhook: request without the right secret token refused');
      return void res.writeHead(401).end();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return void res.writeHead(413).end();
      chunks.push(chunk as Buffer);
    }
    let update: Update;
    try {
      update = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Update;
    } catch {
      return void res.writeHead(400).end();
    }
    if (typeof update?.update_id !== 'number') return void res.writeHead(400).end();
    try {
      await this.options.handle(update);
    } catch (err) {
      // Not accepted (shutting down): Telegram will post it again.
      log.debug({ updateId: update.update_id, err: String(err) }, 'telegram webhook: update refused');
      return void res.writeHead(503).end();
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  }
}
