// The daemon's end of the control channel: a Unix socket (mode 0600, so only the daemon's user — and root —
// can connect) answering one JSON line per connection. Until `serve()` hands it the operations it answers
// `starting`, so a CLI that finds the socket early simply asks again.

import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import {
  CONTROL_VERSION,
  ControlError,
  MAX_CONTROL_LINE,
  runOperation,
  type ControlRequest,
  type ControlResponse,
  type Operations,
} from './control-protocol.js';

export interface ControlServerLog {
  warn(obj: object, msg?: string): void;
}

/** Longest a connection may take to send its request, ms. */
const REQUEST_TIMEOUT_MS = 10_000;

export class ControlServer {
  private ops: Operations | null = null;
  private closed: Promise<void> | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The socket file. */
    readonly path: string,
    private readonly log: ControlServerLog,
  ) {}

  /** Listens on `path` (which must not exist). The file is created owner-only. */
  static async listen(path: string, log: ControlServerLog): Promise<ControlServer> {
    const server = createServer();
    const control = new ControlServer(server, path, log);
    server.on('connection', (socket) => control.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The bind happens inside listen(): a restrictive umask makes the file owner-only from its first instant.
      const previous = setUmask(0o177);
      try {
        server.listen(path, () => resolve());
      } finally {
        if (previous !== undefined) setUmask(previous);
      }
    });
    await chmod(path, 0o600);
    return control;
  }

  /** Starts answering with these operations. */
  serve(ops: Operations): void {
    this.ops = ops;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        for (const s of this.sockets) s.destroy();
      });
      await unlink(this.path).catch(() => {});
    })();
    return this.closed;
  }

  private handle(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    let buffered = '';
    let answered = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      if (answered) return;
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0 && buffered.length <= MAX_CONTROL_LINE) return;
      answered = true;
      const line = nl < 0 ? buffered : buffered.slice(0, nl);
      void this.answer(line).then((response) => socket.end(`${JSON.stringify(response)}\n`));
    });
  }

  private async answer(line: string): Promise<ControlResponse> {
    try {
      if (line.length > MAX_CONTROL_LINE) throw new ControlError('bad_request', `request larger than ${MAX_CONTROL_LINE} bytes`);
      const req = parseRequest(line);
      if (!this.ops) throw new ControlError('starting', 'the daemon is still starting; try again in a moment');
      return { ok: true, result: await runOperation(this.ops, req.op, req.args) };
    } catch (err) {
      const e = err instanceof ControlError ? err : new ControlError('failed', err instanceof Error ? err.message : String(err));
      if (e.code === 'failed') this.log.warn({ err: e.message }, 'control operation failed');
      return { ok: false, error: { code: e.code, message: e.message } };
    }
  }
}

function parseRequest(line: string): ControlRequest {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    throw new ControlError('bad_request', 'the request is not one line of JSON');
  }
  const r = req as Partial<ControlRequest> | null;
  if (!r || typeof r !== 'object' || r.v !== CONTROL_VERSION || typeof r.op !== 'string') {
    throw new ControlError('bad_request', `expected {"v":${CONTROL_VERSION},"op":"area.verb","args":{…}}`);
  }
  const args = r.args ?? {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ControlError('bad_request', 'args must be an object');
  return { v: CONTROL_VERSION, op: r.op, args: args as Record<string, unknown> };
}

/** process.umask(mask), or undefined where it is not allowed (worker threads); chmod follows either way. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}
