// Optional HTTP endpoints for operators: /healthz (liveness + backlog; 503 when the health body says
// `ok: false`), /metrics (Prometheus text) and, when an admin token is configured, the admin API (/admin/…).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../core/metrics.js';
import { handleAdmin, type AdminApiOptions } from './admin-api.js';

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(
  host: string,
  port: number,
  metrics: Metrics,
  health: () => Promise<Record<string, unknown>>,
  /** The admin API (absent: `/admin/…` is not served). */
  admin?: AdminApiOptions,
): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (admin && (path === '/admin' || path.startsWith('/admin/'))) {
      handleAdmin(req, res, admin).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":{"code":"failed","message":"internal error"}}\n');
      });
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      health().then(
        (body) => {
          res.writeHead(body.ok === false ? 503 : 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true, ...body }));
        },
        (err) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: false, error: String(err) }));
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metrics.render());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        // A scraper's idle keep-alive connection must not hold shutdown.
        server.closeAllConnections();
      }),
  };
}
