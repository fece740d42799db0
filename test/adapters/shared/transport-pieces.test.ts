// The small pieces every adapter's start/stop uses: the running transport and its shutdown listener, the
// retry pause that ends on shutdown, a listener's stop that does not wait for idle keep-alive connections,
// the startup error shape, and secret redaction.
import { createServer, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { sleepUnlessAborted } from '../../../adapters/shared/abortable-sleep.js';
import { boundAddress, closeServer } from '../../../adapters/shared/http-server.js';
import { redactSecrets } from '../../../adapters/shared/redact.js';
import { RunningTransport } from '../../../adapters/shared/running-transport.js';
import { AdapterStartupError } from '../../../adapters/shared/startup-error.js';

class CountingTransport {
  stops = 0;
  async stop(): Promise<void> {
    this.stops++;
  }
}

/** Counts the abort listeners added to a signal and still attached. */
function countingSignal(): { ac: AbortController; attached: () => number } {
  const ac = new AbortController();
  const live = new Set<unknown>();
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
    live.add(args[1]);
    add(...args);
  };
  ac.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    live.delete(args[1]);
    remove(...args);
  };
  return { ac, attached: () => live.size };
}

describe('RunningTransport', () => {
  it('an abort of the start signal stops the transport once', async () => {
    const running = new RunningTransport<CountingTransport>();
    const t = new CountingTransport();
    const { ac } = countingSignal();
    running.hold(t, ac.signal);
    expect(running.get()).toBe(t);
    ac.abort();
    await running.stop();
    expect(t.stops).toBe(1);
    expect(running.get()).toBeUndefined();
  });

  it('stop() removes the shutdown listener, so restarts on one long-lived signal do not collect listeners', async () => {
    const running = new RunningTransport<CountingTransport>();
    const { ac, attached } = countingSignal();
    const started: CountingTransport[] = [];
    for (let i = 0; i < 3; i++) {
      const t = new CountingTransport();
      started.push(t);
      running.hold(t, ac.signal);
      expect(attached()).toBe(1);
      await running.stop();
      expect(attached()).toBe(0);
    }
    ac.abort();
    await running.stop();
    expect(started.map((t) => t.stops)).toEqual([1, 1, 1]);
  });
});

describe('sleepUnlessAborted', () => {
  it('ends as soon as the signal aborts (an hour-long pause would time the test out), and at once when already aborted', async () => {
    const ac = new AbortController();
    const pause = sleepUnlessAborted(3_600_000, ac.signal);
    ac.abort();
    await expect(pause).resolves.toBeUndefined();
    await expect(sleepUnlessAborted(3_600_000, ac.signal)).resolves.toBeUndefined();
  });
});

describe('closeServer', () => {
  it('closes a listener while a response is still open (server.close alone would wait for it), and boundAddress reports the port', async () => {
    // The handler never ends its response, like a long request in flight at shutdown.
    const server = createServer((_q, res) => res.writeHead(200).write('partial'));
    expect(boundAddress(server)).toBeUndefined();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const bound = boundAddress(server)!;
    expect(bound.address).toBe('127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    const cut = new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port: bound.port }, (res) => {
        res.once('close', resolve);
        res.resume();
        // Headers arrived: the connection is busy now.
        void closeServer(server);
      }).on('error', reject).end();
    });
    await cut;
    await closeServer(server).catch(() => undefined);
    expect(server.listening).toBe(false);
  });
});

describe('AdapterStartupError and redactSecrets', () => {
  it('a subclass keeps its name and code and is still a startup error', () => {
    class DemoStartupError extends AdapterStartupError<'unauthorized'> {
      override readonly name = 'DemoStartupError';
    }
    const cause = new Error('401');
    const e = new DemoStartupError('unauthorized', 'demo.token was refused', { cause });
    expect(e).toBeInstanceOf(AdapterStartupError);
    expect(e).toMatchObject({ name: 'DemoStartupError', code: 'unauthorized', message: 'demo.token was refused', cause });
  });

  it('replaces every secret and its URL-encoded form, skipping empty ones', () => {
    const token = '123:ab/c+d';
    const text = `GET /bot${token}/x and /bot${encodeURIComponent(token)}/y, pass hunter2`;
    expect(redactSecrets(text, [token, '', undefined, 'hunter2'])).toBe('GET /bot<token>/x and /bot<token>/y, pass <token>');
  });
});
