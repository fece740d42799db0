// The workspace as Slack keeps it: users, channels with members, messages with threads, files and
// ephemeral messages. Message `ts` values are unique per workspace and increase with the clock.
import { randomBytes } from 'node:crypto';
import type { ChannelKind, EphemeralMessage, FakeChannel, FakeFile, StoredMessage } from './types.js';

export class Workspace {
  readonly users = new Map<string, { id: string; name: string; isBot: boolean }>();
  readonly channels = new Map<string, FakeChannel>();
  /** channel → messages in post order (thread replies included). */
  private readonly byChannel = new Map<string, StoredMessage[]>();
  private readonly byTs = new Map<string, StoredMessage>();
  readonly files = new Map<string, FakeFile>();
  readonly ephemerals: EphemeralMessage[] = [];
  private lastTs = 0;
  private fileSeq = 0;

  constructor(
    private readonly clock: () => number,
    private readonly fileUrlBase: () => string,
  ) {}

  /** A fresh ts: seconds.micro, strictly increasing. */
  nextTs(): string {
    const micros = Math.max(this.clock() * 1000, this.lastTs + 1);
    this.lastTs = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  addUser(id: string, name: string, isBot = false): void {
    this.users.set(id, { id, name, isBot });
  }

  addChannel(id: string, kind: ChannelKind, members: string[], name?: string): FakeChannel {
    const existing = this.channels.get(id);
    if (existing) {
      for (const m of members) existing.members.add(m);
      return existing;
    }
    const ch: FakeChannel = { id, kind, name, members: new Set(members) };
    this.channels.set(id, ch);
    this.byChannel.set(id, []);
    return ch;
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    const m = this.byTs.get(`${channel}/${ts}`);
    return m && !m.deleted ? m : undefined;
  }

  post(m: Omit<StoredMessage, 'ts' | 'editCount' | 'reactions'> & { ts?: string }): StoredMessage {
    const stored: StoredMessage = { ...m, ts: m.ts ?? this.nextTs(), editCount: 0, reactions: new Map() };
    this.byChannel.get(m.channel)!.push(stored);
    this.byTs.set(`${m.channel}/${stored.ts}`, stored);
    return stored;
  }

  /** Messages of a channel (optionally one thread: its root and replies), deleted ones left out. */
  messages(channel: string, threadTs?: string): StoredMessage[] {
    const all = (this.byChannel.get(channel) ?? []).filter((m) => !m.deleted);
    return threadTs === undefined ? all : all.filter((m) => m.ts === threadTs || m.thread_ts === threadTs);
  }

  addFile(bytes: Buffer, mimetype: string, name: string): FakeFile {
    const id = `F${String(++this.fileSeq).padStart(8, '0')}`;
    const path = `${this.fileUrlBase()}/files-pri/T0FAKE-${id}/${encodeURIComponent(name)}`;
    const file: FakeFile = { id, name, mimetype, size: bytes.length, url_private: path, url_private_download: `${path}?download=1`, bytes };
    this.files.set(id, file);
    return file;
  }

  fileByPath(pathname: string): FakeFile | undefined {
    const m = /^\/files-pri\/T0FAKE-(F\d+)\//.exec(pathname);
    return m ? this.files.get(m[1]) : undefined;
  }

  /** An opaque id for anything that needs one (envelopes, triggers). */
  static id(prefix: string): string {
    return `${prefix}${randomBytes(8).toString('hex').toUpperCase()}`;
  }
}

/** The wire form of a file (what events and files.info carry). */
export function fileWire(f: FakeFile): Record<string, unknown> {
  return { id: f.id, name: f.name, title: f.name, mimetype: f.mimetype, filetype: f.name.split('.').pop(), size: f.size, url_private: f.url_private, url_private_download: f.url_private_download, mode: 'hosted' };
}

/** The wire form of a message (what events and API answers carry). */
export function messageWire(m: StoredMessage): Record<string, unknown> {
  return {
    type: 'message',
    ...(m.subtype ? { subtype: m.subtype } : {}),
    ts: m.ts,
    ...(m.user ? { user: m.user } : {}),
    ...(m.bot_id ? { bot_id: m.bot_id } : {}),
    text: m.text,
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ...(m.files ? { files: m.files.map(fileWire) } : {}),
    ...(m.edited ? { edited: m.edited } : {}),
  };
}
