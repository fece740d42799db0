// What the adapter knows about each room: who has joined (a room of exactly the bot and one person is a
// DM), their display names, whether the room is encrypted, and when the bot joined (nothing from before
// that is ever answered). Members are read from the server once per room and process, then kept current
// from the membership events /sync delivers; encryption and join times are durable.
import type { MatrixClient } from 'matrix-bot-sdk';
import type { AdapterState } from '../../src/core/adapter-types.js';
import { call } from './errors.js';

interface Members {
  /** userId → display name (may be empty). */
  joined: Map<string, string>;
}

export class Rooms {
  private readonly members = new Map<string, Promise<Members>>();
  private readonly encrypted = new Map<string, boolean>();

  constructor(
    private readonly client: MatrixClient,
    private readonly state: AdapterState,
    private readonly botId: string,
  ) {}

  private load(roomId: string): Promise<Members> {
    let p = this.members.get(roomId);
    if (!p) {
      p = call('joined_members', undefined, () =>
        this.client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`),
      ).then((r: { joined?: Record<string, { display_name?: string }> }) => ({
        joined: new Map(Object.entries(r.joined ?? {}).map(([id, p]) => [id, p.display_name ?? ''])),
      }));
      // A failed read is not cached: the next event asks again.
      p.catch(() => this.members.delete(roomId));
      this.members.set(roomId, p);
    }
    return p;
  }

  /** A DM: exactly two joined members, the bot and one person. */
  async isDirect(roomId: string): Promise<boolean> {
    const m = await this.load(roomId);
    return m.joined.size === 2 && m.joined.has(this.botId);
  }

  async displayName(roomId: string, userId: string): Promise<string | undefined> {
    return (await this.load(roomId)).joined.get(userId) || undefined;
  }

  /** Applies an `m.room.member` event (only to rooms already read; others are read fresh when needed). */
  async member(roomId: string, userId: string, membership: string, displayName: string | undefined): Promise<void> {
    const p = this.members.get(roomId);
    if (!p) return;
    const m = await p.catch(() => undefined);
    if (!m) return;
    if (membership === 'join') m.joined.set(userId, displayName ?? '');
    else m.joined.delete(userId);
  }

  /** The bot left or was removed: forget the room. */
  forget(roomId: string): void {
    this.members.delete(roomId);
  }

  async isEncrypted(roomId: string): Promise<boolean> {
    const known = this.encrypted.get(roomId);
    if (known !== undefined) return known;
    const stored = (await this.state.get<number>(`enc/${roomId}`)) !== undefined;
    this.encrypted.set(roomId, stored);
    return stored;
  }

  /** Records that the room is encrypted; true the first time (so it is logged and told once). */
  async markEncrypted(roomId: string): Promise<boolean> {
    this.encrypted.set(roomId, true);
    return this.state.setIfAbsent(`enc/${roomId}`, Date.now());
  }

  /** When the bot joined the room (server time, ms), if known. */
  joinedAt(roomId: string): Promise<number | undefined> {
    return this.state.get<number>(`joined/${roomId}`);
  }

  async setJoinedAt(roomId: string, ts: number): Promise<void> {
    await this.state.set(`joined/${roomId}`, ts);
  }
}
