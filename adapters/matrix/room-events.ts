// One /sync response → events for the core. Rooms are handled concurrently, each room's events strictly
// in order. What is never answered: the bot's own events, anything in an encrypted room, anything from
// before the bot joined the room or before the adapter's first sync (the watermark: history is not a
// prompt), notices of other bots, edits. Messages are deduplicated by the core on their event id; a
// reaction (a press, which the core does not queue) is claimed here, durably, before it is handed over.
import type { MatrixClient } from 'matrix-bot-sdk';
import { PlatformError, type AdapterState, type ConversationRef, type InboundSink, type Sender } from '../../src/core/adapter-types.js';
import { call, describe } from './errors.js';
import type { Invites } from './invites.js';
import { MATRIX_PLATFORM, parseMessageEvent, type MatrixSelf, type RoomEvent } from './parse.js';
import type { ChoiceReactions } from './reactions.js';
import type { Rooms } from './rooms.js';
import type { EventSenders } from './senders.js';
import { TIMELINE_LIMIT, type JoinedRoom, type SyncLog, type SyncResponse } from './sync.js';

export interface RoomEventsDeps {
  client: MatrixClient;
  state: AdapterState;
  sink: InboundSink;
  self: MatrixSelf;
  rooms: Rooms;
  invites: Invites;
  reactions: ChoiceReactions;
  senders: EventSenders;
  /** Core command names answered as `!name`. */
  commands: ReadonlySet<string>;
  log: SyncLog;
  secret: string;
}

/** Server time before which nothing is answered: the newest event of the adapter's very first sync. */
const FLOOR_KEY = 'sync/floor';

export class RoomEvents {
  private floor: number | undefined;

  constructor(private readonly deps: RoomEventsDeps) {}

  async handle(response: SyncResponse, initial: boolean): Promise<void> {
    const rooms = response.rooms ?? {};
    this.floor ??= (await this.deps.state.get<number>(FLOOR_KEY)) ?? undefined;
    if (initial && this.floor === undefined) {
      // First start with this store: everything already in the rooms is history. Server time, like the
      // events it is compared with (the bridge's clock may be off).
      let newest = 0;
      for (const room of Object.values(rooms.join ?? {})) for (const ev of room.timeline?.events ?? []) newest = Math.max(newest, ev.origin_server_ts);
      this.floor = newest;
      await this.deps.state.set(FLOOR_KEY, newest);
    }
    for (const roomId of Object.keys(rooms.leave ?? {})) this.deps.rooms.forget(roomId);
    await Promise.all([
      ...Object.entries(rooms.invite ?? {}).map(([roomId, inv]) => this.deps.invites.invited(roomId, inv.invite_state?.events ?? [])),
      ...Object.entries(rooms.join ?? {}).map(([roomId, room]) => this.room(roomId, room, initial)),
    ]);
  }

  private async room(roomId: string, room: JoinedRoom, initial: boolean): Promise<void> {
    const { rooms, self, log } = this.deps;
    for (const ev of room.state?.events ?? []) await this.stateEvent(roomId, ev, false);
    if (await rooms.isEncrypted(roomId)) return;
    const timeline = room.timeline?.events ?? [];
    // The bot's own join comes after the history it joined into: know it before reading that history.
    const ownJoin = timeline.findLast((ev) => ev.type === 'm.room.member' && ev.state_key === self.userId && ev.content.membership === 'join');
    if (ownJoin) await this.stateEvent(roomId, ownJoin, true);
    if (room.timeline?.limited && !initial && !ownJoin) {
      log.warn({ roomId, limit: TIMELINE_LIMIT }, 'matrix: more events arrived in this room since the last sync than one sync returns; the older ones were not read');
    }
    for (const ev of timeline) {
      if (ev.state_key !== undefined) {
        await this.stateEvent(roomId, ev, true);
        if (await rooms.isEncrypted(roomId)) return;
        continue;
      }
      if (ev.sender === self.userId) {
        this.deps.senders.remember(ev.event_id, ev.sender);
        continue;
      }
      if (initial || (await this.beforeWatermark(roomId, ev))) continue;
      if (ev.type === 'm.room.encrypted') {
        // Encrypted traffic in a room we did not know was encrypted (its state was missed): it is.
        await this.deps.invites.encrypted(roomId, undefined);
        return;
      }
      if (ev.type === 'm.room.message' || ev.type === 'm.sticker') await this.message(roomId, ev);
      else if (ev.type === 'm.reaction') await this.reaction(roomId, ev);
    }
  }

  private async beforeWatermark(roomId: string, ev: RoomEvent): Promise<boolean> {
    const joined = await this.deps.rooms.joinedAt(roomId);
    return ev.origin_server_ts < Math.max(joined ?? 0, this.floor ?? 0);
  }

  private async stateEvent(roomId: string, ev: RoomEvent, inTimeline: boolean): Promise<void> {
    const { rooms, self, invites } = this.deps;
    if (ev.type === 'm.room.encryption') {
      // Whoever turned it on is told (when allowed); for a room encrypted from the start, whoever invited us.
      const responsible = inTimeline ? ev.sender : await this.deps.state.get<string>(`inviter/${roomId}`);
      await invites.encrypted(roomId, responsible);
      return;
    }
    if (ev.type !== 'm.room.member' || ev.state_key === undefined) return;
    const membership = String(ev.content.membership ?? '');
    await rooms.member(roomId, ev.state_key, membership, typeof ev.content.displayname === 'string' ? ev.content.displayname : undefined);
    if (ev.state_key !== self.userId) return;
    if (membership === 'join') {
      // A (re)join moves the room's watermark: what was said before it is not addressed to this stay.
      const known = await rooms.joinedAt(roomId);
      if (inTimeline ? known !== ev.origin_server_ts : known === undefined) await rooms.setJoinedAt(roomId, ev.origin_server_ts);
      const inviter = (ev.unsigned?.prev_content as { membership?: string } | undefined)?.membership === 'invite' ? (ev.unsigned?.prev_sender as string | undefined) : undefined;
      if (inviter) await this.deps.state.set(`inviter/${roomId}`, inviter);
    } else if (membership === 'leave' || membership === 'ban') {
      rooms.forget(roomId);
    }
  }

  private async sender(roomId: string, userId: string): Promise<Sender> {
    const name = await this.deps.rooms.displayName(roomId, userId).catch(() => undefined);
    return { id: userId, ...(name ? { displayName: name } : {}), isBot: false };
  }

  private async message(roomId: string, ev: RoomEvent): Promise<void> {
    const { self, rooms, reactions, senders, sink } = this.deps;
    senders.remember(ev.event_id, ev.sender);
    const parsed = parseMessageEvent(ev, self, { commands: this.deps.commands });
    if (!parsed) return;
    let isDirect: boolean;
    try {
      isDirect = await rooms.isDirect(roomId);
    } catch (err) {
      // Refused for good (the bot is no longer in the room): skip the event rather than stall intake on it.
      if (err instanceof PlatformError && err.permanent) {
        this.deps.log.warn({ roomId, eventId: ev.event_id, err: describe(err, this.deps.secret) }, 'matrix: cannot read the room\'s members; message skipped');
        return;
      }
      throw err;
    }
    const conversation: ConversationRef = {
      platform: MATRIX_PLATFORM,
      chatId: roomId,
      isDirect,
      ...(parsed.threadId ? { threadId: parsed.threadId } : {}),
    };
    const replyToBot = parsed.inReplyTo !== undefined && (await this.senderOf(roomId, parsed.inReplyTo)) === self.userId;
    // `!allow`, `!2`: addressed to the bot while one of its choices waits here (in a group they carry no mention).
    const mentionsBot = parsed.mentionsBot || (parsed.choiceAnswer && (await reactions.pending(conversation)));
    await sink.accept({
      kind: 'message',
      conversation,
      sender: await this.sender(roomId, ev.sender),
      text: parsed.text,
      files: parsed.files,
      mentionsBot,
      replyToBot,
      messageId: ev.event_id,
      // No `order`: event ids are opaque, and origin_server_ts is the sender's server's clock (federated
      // events arrive late and out of order), so the store keeps these marks for the redelivery window.
      // A thread's fallback still addresses the bot (replyToBot), but it is not a reply to that message.
      ...(replyToBot && !parsed.replyIsFallback ? { replyToMessageId: parsed.inReplyTo } : {}),
    });
  }

  private async reaction(roomId: string, ev: RoomEvent): Promise<void> {
    const rel = ev.content['m.relates_to'] as { rel_type?: string; event_id?: string; key?: string } | undefined;
    if (rel?.rel_type !== 'm.annotation' || !rel.event_id || !rel.key) return;
    const { reactions, sink } = this.deps;
    const hit = await reactions.lookup(rel.event_id, rel.key);
    if (!hit || hit.conversation.chatId !== roomId) return;
    if (!(await reactions.claim(ev.event_id))) return; // a replayed sync
    try {
      await sink.accept({
        kind: 'press',
        conversation: hit.conversation,
        sender: await this.sender(roomId, ev.sender),
        token: hit.token,
        pressId: ev.event_id,
        messageRef: { conversation: hit.conversation, messageId: rel.event_id },
      });
    } catch (err) {
      await reactions.unclaim(ev.event_id); // not taken: let the re-read offer it again
      throw err;
    }
  }

  /** Sender of an event in the room (cached; asked of the server otherwise). */
  private async senderOf(roomId: string, eventId: string): Promise<string | undefined> {
    const known = this.deps.senders.get(eventId);
    if (known) return known;
    try {
      const ev = await call('get event', undefined, () =>
        this.deps.client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`),
      ) as RoomEvent;
      this.deps.senders.remember(eventId, ev.sender);
      return ev.sender;
    } catch (err) {
      this.deps.log.debug({ roomId, eventId, err: describe(err, this.deps.secret) }, 'matrix: could not read the replied-to event');
      return undefined;
    }
  }
}
