// Dedupe marks ("this platform message was already taken") kept per scope (a chat), for the redelivery
// window only, so the store holds recent marks and not the history. See `Store.markSeen` for the contract.
//
// Why a floor: a platform whose message positions only grow within a chat (Telegram message_id, Slack ts)
// lets a forgotten mark leave its position behind; anything at or below the highest forgotten position is
// a redelivery. Why retention counts from the store's opening too: after a long downtime the platform
// redelivers what it had sent just before the crash, and those marks must still be there.

/** One mark: platform message id, when it was made (epoch ms), and its position when the platform gives one. */
export type SeenMark = [id: string, at: number, order?: number];

/** The marks of one scope, oldest first. */
export interface SeenScope {
  /** Marks within the window, in the order they were made. */
  m: SeenMark[];
  /** Floor: the highest position among forgotten marks; positions at or below it are redeliveries. */
  f?: number;
  /** When the newest forgotten mark was made (epoch ms): how long the floor is kept. */
  t?: number;
}

/** A mark is kept at least this long after it was made (and after the store was opened), ms: 30 min. */
export const SEEN_WINDOW_MS = 30 * 60_000;
/** A scope whose marks are all forgotten keeps its floor this long after its last mark, ms: 7 days. */
export const SEEN_SCOPE_TTL_MS = 7 * 24 * 3600_000;

/** Whether `id` (at `order`) is a redelivery in this scope. Expired but not yet pruned marks still count. */
export function isSeenIn(scope: SeenScope | undefined, id: string, order: number | undefined): boolean {
  if (!scope) return false;
  if (order !== undefined && scope.f !== undefined && order <= scope.f) return true;
  for (const mark of scope.m) if (mark[0] === id) return true;
  return false;
}

/** Forgets the marks whose window ended, raising the floor. Returns how many were forgotten. */
export function pruneScope(scope: SeenScope, now: number, openedAt: number): number {
  // Marks are appended in time order, so the expired ones are a prefix (a clock step back only delays one).
  let n = 0;
  while (n < scope.m.length && Math.max(scope.m[n][1], openedAt) + SEEN_WINDOW_MS <= now) n++;
  if (n === 0) return 0;
  for (const [, at, order] of scope.m.slice(0, n)) {
    if (order !== undefined) scope.f = scope.f === undefined ? order : Math.max(scope.f, order);
    scope.t = Math.max(scope.t ?? 0, at);
  }
  scope.m.splice(0, n);
  return n;
}

/** A scope with nothing left to guard: no marks, and its floor is past the longest redelivery window. */
export function scopeIsStale(scope: SeenScope, now: number, openedAt: number): boolean {
  return scope.m.length === 0 && Math.max(scope.t ?? 0, openedAt) + SEEN_SCOPE_TTL_MS <= now;
}

/** Checks a loaded `seen` map; returns what is wrong, or undefined. */
export function seenDataProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return '"seen" is not a map';
  for (const scope of Object.values(value as Record<string, unknown>)) {
    if (typeof scope !== 'object' || scope === null || !Array.isArray((scope as SeenScope).m)) return '"seen" holds a scope without marks';
    const { m, f, t } = scope as SeenScope;
    if ((f !== undefined && typeof f !== 'number') || (t !== undefined && typeof t !== 'number')) return '"seen" holds a bad floor';
    if (!m.every((mark) => Array.isArray(mark) && typeof mark[0] === 'string' && typeof mark[1] === 'number' && (mark[2] === undefined || typeof mark[2] === 'number'))) {
      return '"seen" holds a bad mark';
    }
  }
  return undefined;
}
