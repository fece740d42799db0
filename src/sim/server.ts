// The simulator's HTTP layer: routing under /api/v1, auth, ownership, and wiring of POST/GET streams
// to the per-loop sessions, idempotency records and fault plan. node:http only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Loop, PermissionMode } from '../loop-api/types.js';
import { defaultAgent, scriptedAgent, type TurnAgent } from './agent.js';
import { FaultPlan } from './faults.js';
import {
  ApiError,
  badRequest,
  faultEnvelope,
  loopNotFound,
  notOwner,
  readJsonBody,
  sendEmpty,
  sendError,
  sendJson,
  sendPlain500,
  unauthorized,
} from './http-util.js';
import { IdempotencyStore, TurnRecord } from './idempotency.js';
import { newToken, newTurnId, requestHash, stripPrefix } from './ids.js';
import { LoopsState, toWire, type LoopCreation, type LoopRecord } from './loops-state.js';
import { validateMessage } from './messages-validation.js';
import { resolveOptions, type ResolvedSimOptions, type ScriptStep, type SimOptions } from './options.js';
import { LoopSession, type Listener, type SessionHost } from './session.js';
import { SseStream } from './sse.js';

const TERMINAL = new Set(['done', 'interrupted', 'error']);

/** The running simulator (see index.ts for the documented interface). */
export class SimServer implements SessionHost {
  readonly opts: ResolvedSimOptions;
  private readonly server: Server;
  private readonly loops = new LoopsState();
  private readonly sessions = new Map<string, LoopSession>();
  private readonly idem = new IdempotencyStore();
  readonly faultPlan = new FaultPlan();
  private readonly streams = new Set<SseStream>();
  private readonly scripts = new Map<string, ScriptStep[][]>();
  private idleCutMs: number | null;
  port = 0;

  constructor(options: SimOptions) {
    this.opts = resolveOptions(options, () => ({ [newToken()]: 'alice' }));
    this.idleCutMs = this.opts.idleCutMs;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (res.headersSent) res.destroy();
        else if (e instanceof ApiError) sendError(res, e);
        else sendPlain500(res);
      });
    });
    // SSE streams can be long; node's default request/headers timeouts must not cut them.
    this.server.requestTimeout = 0;
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onErr = (e: Error): void => reject(e);
      this.server.once('error', onErr);
      this.server.listen(port, this.opts.host, () => {
        this.server.off('error', onErr);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and drops every connection (streams are destroyed, not ended). */
  async stopListening(): Promise<void> {
    for (const s of this.streams) s.destroy();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) s.close();
    if (this.server.listening) await this.stopListening();
  }

  setIdleCut(ms: number | null): void {
    this.idleCutMs = ms;
    for (const s of this.streams) s.resetIdle();
  }

  openStreamCount(): number {
    return this.streams.size;
  }

  scriptNextTurn(loopId: string, steps: ScriptStep[]): void {
    const key = loopId === '*' ? '*' : stripPrefix(loopId, 'loop_');
    const list = this.scripts.get(key) ?? [];
    list.push(steps);
    this.scripts.set(key, list);
  }

  received(loopId: string): string[] {
    return [...(this.sessions.get(stripPrefix(loopId, 'loop_'))?.received ?? [])];
  }

  written(loopId: string): string {
    return this.sessions.get(stripPrefix(loopId, 'loop_'))?.written ?? '';
  }

  listenerCount(loopId?: string): number {
    if (loopId === undefined) return [...this.sessions.values()].reduce((n, s) => n + s.listenerCount, 0);
    return this.sessions.get(stripPrefix(loopId, 'loop_'))?.listenerCount ?? 0;
  }

  creation(loopId: string): LoopCreation | undefined {
    const c = this.loops.get(loopId)?.creation;
    return c ? structuredClone(c) : undefined;
  }

  creations(): LoopCreation[] {
    return this.loops
      .all()
      .sort((a, b) => a.seq - b.seq)
      .map((l) => structuredClone(l.creation));
  }

  /** Revokes a token: every later request with it gets 401 missing_credentials, like a token revoked in Settings. */
  revokeToken(token: string): void {
    delete this.opts.tokens[token];
  }

  receivedImages(loopId: string): number[] {
    return [...(this.sessions.get(stripPrefix(loopId, 'loop_'))?.receivedImages ?? [])];
  }

  private readonly gates = new Map<string, { released: Promise<void>; release: () => void }>();

  private gateOf(name: string): { released: Promise<void>; release: () => void } {
    let g = this.gates.get(name);
    if (!g) {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      g = { released, release };
      this.gates.set(name, g);
    }
    return g;
  }

  gate(name: string): Promise<void> {
    return this.gateOf(name).released;
  }

  release(name: string): void {
    this.gateOf(name).release();
  }

  agentFor(loopUuid: string, content: string): TurnAgent {
    const steps = this.scripts.get(loopUuid)?.shift() ?? this.scripts.get('*')?.shift();
    return steps ? scriptedAgent(steps) : defaultAgent(content, this.opts.deltaDelayMs, this.opts.toolDelayMs);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    const origin = req.headers.origin;
    if (origin) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
    }
    const fail = this.faultPlan.takeFailure(path);
    if (fail) {
      req.resume();
      if (fail.body !== undefined) {
        const isJson = (() => {
          try {
            JSON.parse(fail.body);
            return true;
          } catch {
            return false;
          }
        })();
        res.writeHead(fail.status, { 'content-type': isJson ? 'application/json' : 'text/plain; charset=UTF-8' });
        res.end(fail.body);
      } else if (fail.status >= 500) sendPlain500Status(res, fail.status);
      else sendError(res, faultEnvelope(fail.status));
      return;
    }
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.setHeader('access-control-allow-methods', 'GET,POST,DELETE,OPTIONS');
      res.setHeader('access-control-allow-headers', 'authorization,content-type,idempotency-key');
      return sendEmpty(res, 204);
    }
    const seg = path.startsWith('/api/v1/') ? path.slice('/api/v1/'.length).split('/').map(decodeURIComponent) : [];
    if (method === 'GET' && seg.length === 1 && seg[0] === 'openapi.json') {
      return sendJson(res, 200, { openapi: '3.1.0', info: { title: 'Loop API v1 (loopbridge simulator)', version: '1' }, paths: {} });
    }
    const route = matchRoute(method, seg);
    if (!route) {
      req.resume();
      throw new ApiError(404, 'not_found_error', 'not_found', `no route for ${method} ${path}`);
    }
    const user = this.authenticate(req);
    switch (route) {
      case 'create':
        return this.createLoop(req, res, user);
      case 'list':
        return sendJson(res, 200, this.loops.list(user, url.searchParams));
      case 'get':
        return sendJson(res, 200, this.withRuntime(this.ownLoop(user, seg[1]!)));
      case 'archive':
        this.loops.archive(this.ownLoop(user, seg[1]!));
        return sendEmpty(res, 204);
      case 'messages':
        return this.postMessage(req, res, user, seg[1]!, path);
      case 'events':
        return this.watch(res, user, seg[1]!, path);
      case 'choices':
        return this.answerChoice(req, res, user, seg[1]!, seg[3]!);
      case 'interrupt':
        this.sessions.get(this.ownLoop(user, seg[1]!).uuid)?.interrupt();
        return sendEmpty(res, 202);
    }
  }

  /** Bearer token only: the header must start with exactly `Bearer `; every failure is missing_credentials. */
  private authenticate(req: IncomingMessage): string {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) throw unauthorized();
    const token = h.slice(7).trim();
    const user = token.startsWith('la_') ? this.opts.tokens[token] : undefined;
    if (!user) throw unauthorized();
    return user;
  }

  private ownLoop(user: string, id: string): LoopRecord {
    const rec = this.loops.get(id);
    if (!rec) throw loopNotFound();
    if (rec.created_by !== user) throw notOwner();
    return rec;
  }

  private session(rec: LoopRecord): LoopSession {
    let s = this.sessions.get(rec.uuid);
    if (!s) {
      s = new LoopSession(this, rec.uuid);
      this.sessions.set(rec.uuid, s);
    }
    return s;
  }

  private withRuntime(rec: LoopRecord): Loop {
    const s = this.sessions.get(rec.uuid);
    return { ...toWire(rec), busy: s?.busy ?? false, queue_depth: s?.queueDepth ?? 0, current_turn: s?.currentTurn() ?? null };
  }

  private async createLoop(req: IncomingMessage, res: ServerResponse, user: string): Promise<void> {
    const body = await readJsonBody(req);
    if (this.opts.onboardingIncomplete.has(user))
      throw new ApiError(403, 'permission_error', 'onboarding_incomplete', 'finish provider onboarding first');
    sendJson(res, 201, toWire(this.loops.create(user, body)));
  }

  private openStream(res: ServerResponse, path: string): SseStream {
    const s = new SseStream(res, {
      pingIntervalMs: this.opts.pingIntervalMs,
      idleCutMs: () => this.idleCutMs,
      faults: this.faultPlan.takeStreamFaults(path),
    });
    this.streams.add(s);
    s.onClose(() => this.streams.delete(s));
    return s;
  }

  /** Adds a stream to a record; when its last stream leaves, IMPL marks the record done and detaches. */
  private attachSink(record: TurnRecord, stream: SseStream, keyed: boolean, detach: () => void): void {
    record.sinks.add(stream);
    stream.onClose(() => {
      record.sinks.delete(stream);
      if (record.done || record.sinks.size > 0) return;
      // SPEC mode keeps a keyed record buffering so a retry can replay everything and attach live.
      if (!keyed || this.opts.quirks.disconnectMarksIdempotencyDone) {
        record.done = true;
        detach();
      }
    });
  }

  private async postMessage(req: IncomingMessage, res: ServerResponse, user: string, id: string, path: string): Promise<void> {
    const body = await readJsonBody(req);
    const rec = this.ownLoop(user, id);
    if (rec.archived) throw badRequest('loop_archived', 'loop is archived');
    const keyHeader = req.headers['idempotency-key'];
    const msg = validateMessage(body, Array.isArray(keyHeader) ? keyHeader[0] : keyHeader);
    const now = Date.now();
    this.idem.sweep(now);
    const hash = requestHash(msg.content, msg.images);
    const key = msg.idempotencyKey;
    const existing = key !== undefined ? this.idem.get(user, key) : undefined;
    if (existing && existing.hash !== hash)
      throw new ApiError(409, 'conflict_error', 'idempotency_key_reused', 'Idempotency-Key was used with a different request');
    if (existing && existing.events.length > 0) {
      // Replay: no new `started`, the content is not sent again.
      const stream = this.openStream(res, path);
      for (const e of existing.events) stream.write(e.event, e.data);
      if (existing.done) stream.end();
      else this.attachSink(existing, stream, true, existing.detach);
      return;
    }

    const session = this.session(rec);
    rec.creation.permissionMode ??= msg.permissionMode ?? null;
    this.applyPermissionMode(session, rec, msg.permissionMode);
    const stream = this.openStream(res, path);
    const record = new TurnRecord(hash, now, key !== undefined);
    if (key !== undefined) this.idem.set(user, key, record);
    const listener: Listener = {
      deliver: (event, data) => {
        record.emit(event, data);
        if (TERMINAL.has(event)) {
          session.unsubscribe(listener);
          record.finish();
        }
      },
    };
    record.detach = () => session.unsubscribe(listener);
    this.attachSink(record, stream, key !== undefined, record.detach);

    const wasBusy = session.busy;
    const turnId = newTurnId();
    if (wasBusy) record.emit('queued', { position: session.queueDepth + 1 });
    const coldStart = !this.opts.quirks.coldStartAlwaysFalse && !wasBusy && session.turnsBegun === 0;
    record.emit('started', { turn_id: turnId, cold_start: coldStart });
    session.trackStarted(turnId);
    const deferred = wasBusy && !this.opts.quirks.queuedStreamClosesAtCurrentDone;
    if (!deferred) session.subscribe(listener);
    session.send({
      content: msg.content,
      imageCount: msg.images.length,
      // SPEC mode: a queued POST follows its own message from the moment it starts.
      onStart: deferred ? () => !record.done && session.subscribe(listener) : undefined,
    });
  }

  /** [IMPL] permission_mode is sticky on the session and persisting it wipes the loop's config. */
  private applyPermissionMode(session: LoopSession, rec: LoopRecord, mode: string | undefined): void {
    if (mode === undefined || mode === session.mode) return;
    if (this.opts.quirks.configWipe) {
      rec.profiles = [];
      rec.vault = 'default';
    }
    if (this.opts.quirks.permissionModeSticky) session.mode = mode as PermissionMode;
  }

  private watch(res: ServerResponse, user: string, id: string, path: string): void {
    const session = this.session(this.ownLoop(user, id));
    const stream = this.openStream(res, path);
    const snap = session.snapshot();
    if (snap) stream.write('snapshot', snap);
    const listener: Listener = { deliver: (event, data) => stream.write(event, data) };
    session.subscribe(listener);
    stream.onClose(() => session.unsubscribe(listener));
  }

  private async answerChoice(req: IncomingMessage, res: ServerResponse, user: string, id: string, choiceId: string): Promise<void> {
    const body = await readJsonBody(req);
    const rec = this.ownLoop(user, id);
    let answer: { allow: boolean } | { answers: Record<string, unknown> };
    // A boolean `allow` selects the permission path even when `answers` is present too.
    if (typeof body.allow === 'boolean') answer = { allow: body.allow };
    else if (body.answers !== null && typeof body.answers === 'object') answer = { answers: body.answers as Record<string, unknown> };
    else throw badRequest('invalid_choice_payload', 'body needs a boolean allow or an answers object');
    const ok = this.sessions.get(rec.uuid)?.answer(stripPrefix(choiceId, 'choice_'), answer) ?? false;
    if (!ok) throw new ApiError(404, 'not_found_error', 'choice_not_found', 'choice is not pending');
    sendEmpty(res, 202);
  }
}

type Route = 'create' | 'list' | 'get' | 'archive' | 'messages' | 'events' | 'choices' | 'interrupt';

function matchRoute(method: string, seg: string[]): Route | null {
  if (seg[0] !== 'loops' || seg.some((s, i) => i > 0 && s === '')) return null;
  switch (seg.length) {
    case 1:
      return method === 'POST' ? 'create' : method === 'GET' ? 'list' : null;
    case 2:
      return method === 'GET' ? 'get' : method === 'DELETE' ? 'archive' : null;
    case 3:
      if (seg[2] === 'messages' && method === 'POST') return 'messages';
      if (seg[2] === 'events' && method === 'GET') return 'events';
      if (seg[2] === 'interrupt' && method === 'POST') return 'interrupt';
      return null;
    case 4:
      return seg[2] === 'choices' && method === 'POST' ? 'choices' : null;
    default:
      return null;
  }
}

function sendPlain500Status(res: ServerResponse, status: number): void {
  const body = 'Internal Server Error';
  res.writeHead(status, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
