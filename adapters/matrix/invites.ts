// Invites and encrypted rooms. With matrix.autoJoin the bot accepts an invite from an allowed user or into
// an allowed room (and, when access.dm lets strangers reach the bot, a direct-chat invite from anyone) and
// rejects every other one. It never works in an end-to-end encrypted room: such an invite is rejected, a
// room that turns encrypted is left, each is logged once, and an allowed person who brought the bot there
// is told why in an unencrypted direct room.
import type { MatrixClient } from 'matrix-bot-sdk';
import { PlatformError, type AdapterState } from '../../src/core/adapter-types.js';
import { call, describe } from './errors.js';
import { textContent } from './format.js';
import type { Rooms } from './rooms.js';
import type { StrippedEvent, SyncLog } from './sync.js';

/** Who may bring the bot into a room. */
export interface InvitePolicy {
  /** Accept invites at all (matrix.autoJoin). */
  autoJoin: boolean;
  /** Matrix user ids whose invites are accepted (access.users and access.admins). */
  users: ReadonlySet<string>;
  /** Room ids the bot joins whoever invites it (access.groups). */
  rooms: ReadonlySet<string>;
  /** Accept a direct-chat invite from anyone (access.dm is pairing or open). */
  directFromAnyone: boolean;
}

export interface InviteDeps {
  client: MatrixClient;
  state: AdapterState;
  rooms: Rooms;
  botId: string;
  policy: InvitePolicy;
  log: SyncLog;
  secret: string;
}

const ENCRYPTED_NOTICE = (where: string) =>
  `I can't work in ${where}: it is end-to-end encrypted, and loopbridge does not support encryption, so I would neither read ` +
  `what is said there nor answer without leaking it in plain text. Talk to me here, or invite me to a room without encryption.`;

export class Invites {
  constructor(private readonly deps: InviteDeps) {}

  /** Acts on one pending invite (it stays in /sync until joined or rejected, so a repeat is harmless). */
  async invited(roomId: string, events: StrippedEvent[]): Promise<void> {
    const { policy, log, botId } = this.deps;
    const me = events.find((e) => e.type === 'm.room.member' && e.state_key === botId);
    const inviter = me?.sender;
    const isDirect = me?.content.is_direct === true;
    if (!policy.autoJoin) {
      if (await this.deps.state.setIfAbsent(`invite-seen/${roomId}`, 1, { ttlMs: 24 * 3600_000 })) {
        log.info({ roomId, inviter }, 'matrix: invite left pending (matrix.autoJoin is false)');
      }
      return;
    }
    const allowedInviter = inviter !== undefined && policy.users.has(inviter);
    if (events.some((e) => e.type === 'm.room.encryption')) {
      await this.reject(roomId, 'encrypted rooms are not supported');
      if (await this.deps.rooms.markEncrypted(roomId)) {
        log.warn({ roomId, inviter }, 'matrix: refused an invite to an end-to-end encrypted room (not supported)');
        if (allowedInviter) await this.explain(inviter, roomId, 'the room you invited me to');
      }
      return;
    }
    if (allowedInviter || policy.rooms.has(roomId) || (isDirect && policy.directFromAnyone)) {
      try {
        await call('join', undefined, () => this.deps.client.joinRoom(roomId), this.deps.secret);
        log.info({ roomId, inviter }, 'matrix: joined on invite');
      } catch (err) {
        // A transient failure fails the batch, so the same /sync (and this invite) is read again.
        const transient = !(err instanceof PlatformError) || !err.permanent;
        log.warn({ roomId, err: describe(err, this.deps.secret) }, transient ? 'matrix: could not join on invite; will try again' : 'matrix: could not join on invite');
        if (transient) throw err;
      }
      return;
    }
    await this.reject(roomId, 'not invited by an allowed user');
    log.info({ roomId, inviter }, 'matrix: refused an invite (the inviter is not in access.users and the room not in access.groups)');
  }

  /**
   * A joined room turned out encrypted (its state, or an `m.room.encryption` event): never read or write
   * there again, leave it, and tell `responsible` (who enabled it, or invited the bot) if allowed.
   */
  async encrypted(roomId: string, responsible: string | undefined): Promise<void> {
    if (!(await this.deps.rooms.markEncrypted(roomId))) return;
    this.deps.log.warn({ roomId }, 'matrix: the room is end-to-end encrypted; loopbridge does not support that and leaves it');
    await this.reject(roomId, 'encrypted rooms are not supported');
    if (responsible && responsible !== this.deps.botId && this.deps.policy.users.has(responsible)) await this.explain(responsible, roomId, 'that room');
  }

  private async reject(roomId: string, reason: string): Promise<void> {
    try {
      await call('leave', undefined, () => this.deps.client.leaveRoom(roomId, reason), this.deps.secret);
    } catch (err) {
      this.deps.log.debug({ roomId, err: describe(err, this.deps.secret) }, 'matrix: leaving failed (already gone?)');
    }
    this.deps.rooms.forget(roomId);
  }

  /** Tells `userId` why, in an unencrypted direct room (the one used before, or a new one). */
  private async explain(userId: string, roomId: string, where: string): Promise<void> {
    const { client, state, rooms, log, secret } = this.deps;
    try {
      let dm = await state.get<string>(`dm/${userId}`);
      if (dm && (dm === roomId || (await rooms.isEncrypted(dm)))) dm = undefined;
      if (!dm) {
        dm = await call('createRoom', undefined, () => client.createRoom({ invite: [userId], is_direct: true, preset: 'private_chat' }), secret);
        await state.set(`dm/${userId}`, dm);
      }
      const content = { ...textContent(`${ENCRYPTED_NOTICE(where)} (room \`${roomId}\`)`), 'm.mentions': { user_ids: [userId] } };
      await call('send notice', undefined, () => client.sendMessage(dm!, content), secret);
    } catch (err) {
      log.warn({ userId, err: describe(err, secret) }, 'matrix: could not tell the inviter why the encrypted room is refused');
    }
  }
}
