// A TCP proxy on 127.0.0.1 that a test can cut: put it between a client and a real server to see what
// the client does when the network goes away (refused, reset, or silent) and comes back.

import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** `refuse`: close every connection and stop listening (connection refused). `blackhole`: keep accepting
   * and keep connections open, but forward nothing either way (a silent network). */
  cut(mode: 'refuse' | 'blackhole'): Promise<void>;
  /** Forwards again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let mode: 'forward' | 'refuse' | 'blackhole' = 'forward';
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        sockets.add(client);
        client.on('close', () => sockets.delete(client));
        client.on('error', () => {});
        if (mode !== 'forward') return; // blackholed: accepted, never answered
        const upstream = connect(targetPort, targetHost);
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.on('data', (chunk) => mode === 'forward' && upstream.write(chunk));
        upstream.on('data', (chunk) => mode === 'forward' && client.write(chunk));
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });

  const stopListening = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

  await listen();
  return {
    get port() {
      return port;
    },
    async cut(how) {
      mode = how;
      if (how === 'refuse') {
        for (const s of sockets) s.destroy();
        await stopListening();
        server = undefined;
      }
    },
    async restore() {
      const wasRefusing = mode === 'refuse';
      mode = 'forward';
      // Connections accepted while blackholed never got an upstream: drop them so clients reconnect.
      for (const s of sockets) s.destroy();
      if (wasRefusing) await listen();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await stopListening();
    },
  };
}
