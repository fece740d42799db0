// Optional HTTP endpoints for operators: /healthz (liveness + backlog; 503 when the health body says
// `ok: false`) and /metrics (Prometheus text).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../core/metrics.js';

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(
  host: string,
  port: number,
  metrics: Metrics,
  health: () => Promise<Record<string, unknown>>,
): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
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
