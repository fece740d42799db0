// The operator's end of the control channel: one request to the daemon's socket, one answer.

import { connect } from 'node:net';
import { CONTROL_VERSION, ControlError, MAX_CONTROL_LINE, type ControlRequest, type ControlResponse } from './control-protocol.js';

/** Sends `op` to the daemon listening on `path`. Throws ControlError (`not_running` when nobody listens). */
export function callControl(path: string, op: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    let done = false;
    const finish = (err: ControlError | null, result?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(result);
    };
    const timer = setTimeout(() => finish(new ControlError('timeout', `the daemon did not answer ${op} within ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      const req: ControlRequest = { v: CONTROL_VERSION, op, args };
      socket.write(`${JSON.stringify(req)}\n`);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const absent = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK';
      finish(absent ? new ControlError('not_running', `no loopbridge daemon listens on ${path}`) : new ControlError('failed', `control socket ${path}: ${err.message}`));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_CONTROL_LINE) finish(new ControlError('failed', 'the answer is too large'));
    });
    socket.on('end', () => {
      let res: ControlResponse;
      try {
        res = JSON.parse(buffered.trim()) as ControlResponse;
      } catch {
        return finish(new ControlError('failed', 'the daemon answered something that is not JSON'));
      }
      if (res.ok) finish(null, res.result);
      else finish(new ControlError(res.error.code, res.error.message));
    });
  });
}

/** True when a daemon answers on `path` (even one still starting). */
export async function daemonListening(path: string): Promise<boolean> {
  try {
    await callControl(path, 'daemon.ping', {}, 5000);
    return true;
  } catch (err) {
    return !(err instanceof ControlError && err.code === 'not_running');
  }
}
