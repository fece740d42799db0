// The two things every listener an adapter runs (Telegram's webhook, Slack's HTTP mode) asks of its
// node:http server: the address it bound (the port may have been 0), and a stop that does not wait for
// idle keep-alive connections.
import type { Server } from 'node:http';

/** The bound address once listening; undefined before. */
export function boundAddress(server: Server | undefined): { address: string; port: number } | undefined {
  const a = server?.address();
  return a && typeof a === 'object' ? { address: a.address, port: a.port } : undefined;
}

/** Stops listening and closes every connection, idle or not; resolves once the server is closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
