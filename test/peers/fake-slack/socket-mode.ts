// Socket Mode over a real WebSocket: apps.connections.open hands out one-use tickets, a connection gets
// `hello` first, the server pings, envelopes wait for the app's `{envelope_id}` acknowledgement, and a
// `disconnect` message (refresh) is followed by the server closing the socket.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { PendingEvent, Transport } from './delivery.js';
import type { DeliveryRecord } from './types.js';

export interface SocketModeOptions {
  appId: string;
  ackTimeoutMs: number;
  pingIntervalMs: number;
  disconnectGraceMs: number;
}

interface Connection {
  ws: WebSocket;
  ready: boolean;
  pinger: NodeJS.Timeout;
}

export class SocketModeServer implements Transport {
  readonly via = 'socket' as const;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly connections = new Set<Connection>();
  private readonly acks = new Map<string, (payload: unknown) => void>();
  private readonly waitingForSocket = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Every connection ever accepted (count), for reconnect assertions. */
  connectionsOpened = 0;
  /** Acknowledgement payloads received, by envelope id. */
  readonly ackPayloads = new Map<string, unknown>();

  constructor(
    server: Server,
    private readonly options: SocketModeOptions,
  ) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** A one-use URL for apps.connections.open. */
  ticketUrl(origin: string): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${origin.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${this.options.appId}`;
  }

  /** Open, greeted connections. */
  get openCount(): number {
    return [...this.connections].filter((c) => c.ready).length;
  }

  attempt(ev: PendingEvent, attempt: number, reason: string | undefined, record: DeliveryRecord): Promise<{ acked: boolean; reason?: string }> {
    return new Promise((resolve) => {
      const send = () => {
        const conn = this.pick();
        if (!conn) {
          // Nobody connected: Slack holds the event until a connection is there.
          this.waitingForSocket.add(send);
          return;
        }
        const envelopeId = randomUUID();
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.acks.delete(envelopeId);
          resolve({ acked: false, reason: 'timeout' });
        }, this.options.ackTimeoutMs);
        this.timers.add(timer);
        this.acks.set(envelopeId, (payload) => {
          clearTimeout(timer);
          this.timers.delete(timer);
          this.ackPayloads.set(envelopeId, payload);
          resolve({ acked: true });
        });
        record.sentAt = Date.now();
        conn.ws.send(
          JSON.stringify({
            envelope_id: envelopeId,
            type: ev.type,
            payload: ev.payload,
            accepts_response_payload: ev.type !== 'events_api',
            ...(ev.type === 'events_api' ? { retry_attempt: attempt, retry_reason: reason ?? '' } : {}),
          }),
        );
      };
      send();
    });
  }

  /** Sends `disconnect` (Slack refreshing the connection); the server closes each socket after the grace period. */
  disconnect(reason = 'refresh_requested'): void {
    for (const c of this.connections) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      c.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'fake-slack' } }));
      const t = setTimeout(() => {
        this.timers.delete(t);
        c.ws.close(1000, reason);
      }, this.options.disconnectGraceMs);
      this.timers.add(t);
    }
  }

  /** Drops every socket without a close handshake (a network cut). */
  drop(): void {
    for (const c of this.connections) c.ws.terminate();
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.connections) {
      clearInterval(c.pinger);
      c.ws.terminate();
    }
    this.wss.close();
  }

  /** The newest ready connection (Slack spreads over up to 10; one is enough to be faithful here). */
  private pick(): Connection | undefined {
    let last: Connection | undefined;
    for (const c of this.connections) if (c.ready && c.ws.readyState === c.ws.OPEN) last = c;
    return last;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (!url.pathname.startsWith('/link') || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.connectionsOpened++;
    const conn: Connection = { ws, ready: false, pinger: setInterval(() => ws.ping('ping'), this.options.pingIntervalMs) };
    this.connections.add(conn);
    ws.on('message', (data) => {
      let msg: { envelope_id?: string; payload?: unknown };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.envelope_id) this.acks.get(msg.envelope_id)?.(msg.payload);
    });
    ws.on('close', () => {
      clearInterval(conn.pinger);
      this.connections.delete(conn);
    });
    ws.on('error', () => ws.terminate());
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.connections.size, debug_info: { host: 'fake-slack', approximate_connection_time: 18060 }, connection_info: { app_id: this.options.appId } }));
    conn.ready = true;
    const waiting = [...this.waitingForSocket];
    this.waitingForSocket.clear();
    for (const send of waiting) send();
  }
}
