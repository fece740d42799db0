// The download all three adapters share, against a real HTTP server on 127.0.0.1 with the failures real
// file servers produce: bodies over the limit (declared, or only found out while streaming), 429 and 5xx,
// refusals, a connection cut mid-body, nothing listening, and an abort.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformError } from '../../../src/core/adapter-types.js';
import { downloadCapped, type CappedDownload } from '../../../adapters/shared/capped-download.js';
import { freePort } from '../../helpers/net.js';
import { rejection } from '../../helpers/rejection.js';
import { waitFor } from '../../helpers/wait.js';

const SECRET = 's3cr3t-t0ken';
let server: Server;
let base: string;
/** Per path: what the server does. */
const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
/** Requests whose connection closed before the server finished its body. */
let cutShort = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.once('close', () => {
      if (!res.writableFinished) cutShort++;
    });
    (routes.get(req.url ?? '') ?? ((_q, r) => r.writeHead(404).end()))(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const get = (path: string, o: Partial<CappedDownload> = {}, signal = AbortSignal.timeout(10_000)) =>
  downloadCapped({ what: 'test file', url: `${base}${path}`, maxBytes: 1000, scrub: (t) => t.split(SECRET).join('<token>'), ...o }, signal);

const failure = (p: Promise<unknown>) => rejection(p, PlatformError);

/** A body written in chunks without a content-length, forever unless the client goes away. */
function endless(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'image/png' });
  const timer = setInterval(() => res.write(Buffer.alloc(400, 1)), 5);
  res.once('close', () => clearInterval(timer));
}

describe('downloadCapped', () => {
  it('returns the whole body, sending the given headers', async () => {
    routes.set('/ok', (req, res) => res.writeHead(200).end(`auth=${req.headers.authorization}`));
    expect((await get('/ok', { headers: { authorization: 'Bearer x' } })).toString()).toBe('auth=Bearer x');
  });

  it('refuses a declared length over the limit before reading, and an undeclared one as soon as it passes it', async () => {
    routes.set('/declared', (_q, res) => res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000)));
    expect(await failure(get('/declared'))).toMatchObject({ platformCode: 'file_too_large', permanent: true, message: 'test file is 5000 bytes; the limit is 1000 bytes' });

    routes.set('/endless', (_q, res) => endless(res));
    const before = cutShort;
    const err = await failure(get('/endless'));
    expect(err).toMatchObject({ platformCode: 'file_too_large', permanent: true });
    // How far past the limit it got depends on how the chunks arrived; it stopped at the first one over.
    const seen = Number(/^test file is (\d+) bytes; the limit is 1000 bytes$/.exec(err.message)?.[1]);
    expect(seen).toBeGreaterThan(1000);
    // The body stream was cancelled: the endless response was cut, not read to the end.
    await waitFor(() => cutShort > before, 'the endless response to be cut');
  });

  it('429 and 5xx are transient; other HTTP errors permanent', async () => {
    routes.set('/429', (_q, res) => res.writeHead(429, { 'retry-after': '1' }).end('slow down'));
    routes.set('/503', (_q, res) => res.writeHead(503).end());
    routes.set('/403', (_q, res) => res.writeHead(403).end());
    expect(await failure(get('/429'))).toMatchObject({ platformCode: 429, permanent: false });
    expect(await failure(get('/503'))).toMatchObject({ platformCode: 503, permanent: false, message: 'test file download failed: HTTP 503' });
    expect(await failure(get('/403'))).toMatchObject({ platformCode: 403, permanent: true });
  });

  it('a refusal of the answer comes back as is, and the body is not read', async () => {
    routes.set('/signin', (_q, res) => endless(res));
    const refusal = new PlatformError('sign-in page', 'not_authorized', true);
    const before = cutShort;
    expect(await failure(get('/signin', { refuse: (res) => (res.headers.get('content-type') === 'image/png' ? refusal : undefined) }))).toBe(refusal);
    await waitFor(() => cutShort > before, 'the refused response to be cut');
  });

  it('a connection cut mid-body and nothing listening are transient network failures, scrubbed of secrets', async () => {
    routes.set('/cut', (req, res) => {
      res.writeHead(200, { 'content-length': '800' });
      res.write(Buffer.alloc(100), () => req.socket.destroy());
    });
    expect(await failure(get('/cut'))).toMatchObject({ platformCode: 'network', permanent: false });

    const closed = await freePort();
    const err = await failure(downloadCapped({ what: 'test file', url: `http://127.0.0.1:${closed}/bot${SECRET}/x`, maxBytes: 10, scrub: (t) => t.split(SECRET).join('<token>') }, AbortSignal.timeout(10_000)));
    expect(err).toMatchObject({ platformCode: 'network', permanent: false });
    expect(err.message).toMatch(/^test file download failed: fetch failed: .*ECONNREFUSED/);
    expect(err.message).not.toContain(SECRET);
  });

  it('an abort rejects with the signal reason, not a PlatformError', async () => {
    const ac = new AbortController();
    const reason = new Error('shutting down');
    routes.set('/hang', () => ac.abort(reason));
    await expect(get('/hang', {}, ac.signal)).rejects.toBe(reason);
  });
});
