// A small HTTP proxy in front of Synapse for the bot's client only, to produce on demand what a real
// homeserver produces on its own schedule: a transient outage of the bot's outbound calls (a reverse
// proxy's 502), and a replayed /sync (the same position read again, as after a restart within Synapse's
// response-cache window). It also counts the 429s Synapse answered, so tests can check the budget held.

import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { waitFor } from '../../helpers/wait.js';

export interface FaultProxy {
  /** Base URL to give the bot instead of Synapse's. */
  url: string;
  /** The next `n` outbound calls (PUT …/send/…, redactions) answer 502 Bad Gateway without reaching Synapse. */
  failNext(n: number): void;
  /** The next `n` outbound calls reach Synapse (the event is made), but their answer is lost: 502, as a gateway timeout. */
  loseNextResponses(n: number): void;
  /**
   * The bot's next /sync reads again from the position just before the response that carried `eventId`,
   * so that event (and everything after it) is delivered a second time. Resolves once that replayed
   * response was handled (the bot asked for the next one).
   */
  replaySyncWith(eventId: string): Promise<void>;
  /** 429 responses Synapse gave the bot. */
  rateLimited(): number;
  /** Outbound calls failed on purpose so far. */
  failed(): number;
  /** Requests seen, by `METHOD path-prefix`, for assertions (e.g. events sent). */
  calls(): Array<{ method: string; path: string; status: number; at: number }>;
  close(): Promise<void>;
}

/** A sync request and the event ids its response carried. */
interface SyncRecord {
  path: string;
  eventIds: Set<string>;
}

const OUTBOUND = /^\/_matrix\/client\/v3\/rooms\/[^/]+\/(send|redact)\//;
const SYNC = /^\/_matrix\/client\/v3\/sync\b/;

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  let failBudget = 0;
  let loseBudget = 0;
  let failedCount = 0;
  let limited = 0;
  const log: Array<{ method: string; path: string; status: number; at: number }> = [];
  const syncs: SyncRecord[] = [];
  let replay: { path: string; served: boolean; done: () => void } | undefined;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    if (OUTBOUND.test(path) && method !== 'GET' && failBudget > 0) {
      failBudget--;
      failedCount++;
      log.push({ method, path, status: 502, at: Date.now() });
      req.resume();
      res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      return;
    }
    const lose = OUTBOUND.test(path) && method !== 'GET' && loseBudget > 0;
    if (lose) loseBudget--;
    let forwardPath = path;
    let replaying = false;
    if (SYNC.test(path) && method === 'GET' && replay) {
      if (replay.served) {
        // The replayed response was handled: this is the request after it.
        const done = replay.done;
        replay = undefined;
        done();
      } else {
        forwardPath = replay.path;
        replay.served = true;
        replaying = true;
      }
    }
    const up = request(
      { host: target.hostname, port: target.port, method, path: forwardPath, headers: { ...req.headers, host: target.host } },
      (upRes) => {
        const status = upRes.statusCode ?? 502;
        if (status === 429) limited++;
        log.push({ method, path, status, at: Date.now() });
        if (lose) {
          failedCount++;
          upRes.resume();
          res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>');
          return;
        }
        if (!SYNC.test(path) || replaying) {
          res.writeHead(status, upRes.headers);
          upRes.pipe(res);
          return;
        }
        // Keep which events each sync response carried, so any of them can be replayed later.
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          const ids = new Set([...body.toString('utf8').matchAll(/"event_id":"(\$[^"]+)"/g)].map((m) => m[1]));
          syncs.push({ path: forwardPath, eventIds: ids });
          if (syncs.length > 500) syncs.shift();
          res.writeHead(status, upRes.headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    failNext(n) {
      failBudget += n;
    },
    loseNextResponses(n) {
      loseBudget += n;
    },
    async replaySyncWith(eventId) {
      // The event may still be on its way to the bot: wait for the response that carries it.
      const rec = await waitFor(() => [...syncs].reverse().find((s) => s.eventIds.has(eventId)), `a /sync response carrying ${eventId}`);
      return new Promise<void>((resolve) => {
        replay = { path: rec.path, served: false, done: resolve };
      });
    },
    rateLimited: () => limited,
    failed: () => failedCount,
    calls: () => log.slice(),
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
