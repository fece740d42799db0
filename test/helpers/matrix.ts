// Matrix test people: accounts on the test Synapse that act as a person would with a client (create and
// join rooms, write, mention, reply, react), and read what the bot shows (its messages with their edits
// applied, as a client renders them).

import { randomBytes } from 'node:crypto';
import { MatrixClient } from 'matrix-bot-sdk';
import { inject } from 'vitest';
import { registerUser, type SynapseAccount, type SynapseInfo } from '../peers/synapse/synapse.js';

/** A message of the bot as a client shows it: the latest edit's content. */
export interface ShownMessage {
  eventId: string;
  body: string;
  html?: string;
  threadId?: string;
  replyTo?: string;
  msgtype: string;
  /** How many edits it had. */
  edits: number;
}

/** The test Synapse of this run (from the global setup). */
export function synapse(): SynapseInfo {
  return inject('synapse');
}

/** A unique username (files share one server). */
export function uniqueName(base: string): string {
  return `${base}_${randomBytes(4).toString('hex')}`;
}

export interface SayOptions {
  /** Mention these users with a pill and `m.mentions` (display name as the pill text). */
  mention?: Array<{ userId: string; displayName: string }>;
  /** Reply (`m.in_reply_to`) to this event. */
  replyTo?: string;
  /** Write in this thread (root event id); `replyTo` is then the thread's fallback reply. */
  thread?: string;
  msgtype?: string;
}

export class MatrixPerson {
  readonly client: MatrixClient;

  constructor(
    readonly server: SynapseInfo,
    readonly account: SynapseAccount,
    readonly displayName: string,
  ) {
    this.client = new MatrixClient(server.url, account.accessToken);
  }

  get userId(): string {
    return this.account.userId;
  }

  static async register(server: SynapseInfo, base: string, displayName: string): Promise<MatrixPerson> {
    const account = await registerUser(server, uniqueName(base), { displayName });
    return new MatrixPerson(server, account, displayName);
  }

  /** A room with these people invited; `direct` marks the invite as a DM (`is_direct`). */
  async createRoom(options: { invite?: string[]; direct?: boolean; encrypted?: boolean; name?: string } = {}): Promise<string> {
    return this.client.createRoom({
      preset: 'private_chat',
      ...(options.invite ? { invite: options.invite } : {}),
      ...(options.direct ? { is_direct: true } : {}),
      ...(options.name ? { name: options.name } : {}),
      ...(options.encrypted ? { initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } }] } : {}),
    });
  }

  join(roomId: string): Promise<string> {
    return this.client.joinRoom(roomId);
  }

  invite(roomId: string, userId: string): Promise<void> {
    return this.client.inviteUser(userId, roomId);
  }

  async say(roomId: string, text: string, options: SayOptions = {}): Promise<string> {
    const content: Record<string, unknown> = { msgtype: options.msgtype ?? 'm.text', body: text };
    if (options.mention?.length) {
      const pills = options.mention.map((m) => `<a href="https://matrix.to/#/${encodeURIComponent(m.userId)}">${m.displayName}</a>`);
      content.body = `${options.mention.map((m) => m.displayName).join(' ')}: ${text}`;
      content.format = 'org.matrix.custom.html';
      content.formatted_body = `${pills.join(' ')}: ${escapeHtml(text)}`;
      content['m.mentions'] = { user_ids: options.mention.map((m) => m.userId) };
    }
    if (options.thread) {
      content['m.relates_to'] = { rel_type: 'm.thread', event_id: options.thread, is_falling_back: !options.replyTo, 'm.in_reply_to': { event_id: options.replyTo ?? options.thread } };
    } else if (options.replyTo) {
      content['m.relates_to'] = { 'm.in_reply_to': { event_id: options.replyTo } };
    }
    return this.client.sendMessage(roomId, content);
  }

  react(roomId: string, eventId: string, key: string): Promise<string> {
    return this.client.sendEvent(roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: eventId, key } });
  }

  /** Every event of the room, oldest first (one page; test rooms are small). */
  async events(roomId: string): Promise<Array<{ type: string; sender: string; event_id: string; content: Record<string, unknown>; origin_server_ts: number }>> {
    const r = await this.client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, { dir: 'b', limit: 1000 });
    return (r.chunk as Array<{ type: string; sender: string; event_id: string; content: Record<string, unknown>; origin_server_ts: number }>).reverse();
  }

  /** `sender`'s messages in the room as a client shows them (edits applied), oldest first. */
  async messagesOf(roomId: string, sender: string): Promise<ShownMessage[]> {
    const events = (await this.events(roomId)).filter((e) => e.type === 'm.room.message' && e.sender === sender);
    const shown = new Map<string, ShownMessage>();
    for (const e of events) {
      const rel = e.content['m.relates_to'] as { rel_type?: string; event_id?: string; 'm.in_reply_to'?: { event_id?: string } } | undefined;
      if (rel?.rel_type === 'm.replace' && rel.event_id) {
        const target = shown.get(rel.event_id);
        const next = e.content['m.new_content'] as { body: string; formatted_body?: string; msgtype: string } | undefined;
        if (target && next) Object.assign(target, { body: next.body, html: next.formatted_body, msgtype: next.msgtype, edits: target.edits + 1 });
        continue;
      }
      shown.set(e.event_id, {
        eventId: e.event_id,
        body: String(e.content.body ?? ''),
        ...(typeof e.content.formatted_body === 'string' ? { html: e.content.formatted_body } : {}),
        ...(rel?.rel_type === 'm.thread' ? { threadId: rel.event_id } : {}),
        ...(rel?.['m.in_reply_to']?.event_id ? { replyTo: rel['m.in_reply_to'].event_id } : {}),
        msgtype: String(e.content.msgtype ?? ''),
        edits: 0,
      });
    }
    return [...shown.values()];
  }

  /** Users joined to the room. */
  async joined(roomId: string): Promise<string[]> {
    return this.client.getJoinedRoomMembers(roomId);
  }

  /** Rooms this account is invited to (read from a /sync). */
  async invitedRooms(): Promise<string[]> {
    // Synapse answers a repeated identical /sync from its response cache for a while: vary the filter.
    const filter = JSON.stringify({ room: { timeline: { limit: 1 + Math.floor(Math.random() * 1e6) } } });
    const r = await this.client.doRequest('GET', '/_matrix/client/v3/sync', { timeout: 0, filter });
    return Object.keys(r.rooms?.invite ?? {});
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
