// Loop records: create (with §3.1 validation), lookup by ID with or without prefix, listing with the
// [IMPL] cursor semantics (§6.1), archive (§6.2: only flags).
import type { Loop, LoopPage } from '../loop-api/types.js';
import { badRequest } from './http-util.js';
import { newLoopUuid, stripPrefix } from './ids.js';

/** What a loop was created with (kept as created: the config wipe does not touch it), for tests. */
export interface LoopCreation {
  id: string;
  createdBy: string;
  title: string;
  repo: string | null;
  profiles: string[];
  vault: string;
  metadata: Record<string, unknown>;
  /** The `permission_mode` of the first message sent to the loop (the mode a bridge drives it with); null until one came. */
  permissionMode: string | null;
}

/** A stored loop: the wire fields plus a creation sequence to order loops created in the same millisecond. */
export interface LoopRecord extends Loop {
  uuid: string;
  seq: number;
  /** As created, plus the first message's permission mode. Not on the wire. */
  creation: LoopCreation;
}

const TITLE_MAX = 200;
const METADATA_MAX = 16_384;

export class LoopsState {
  private readonly byUuid = new Map<string, LoopRecord>();
  private seq = 0;

  /** Validates and creates a loop from a POST /loops body (wrong-typed fields are silently ignored). */
  create(user: string, body: Record<string, unknown>): LoopRecord {
    let title = typeof body.title === 'string' ? body.title.trim() : '';
    if (title.length > TITLE_MAX) throw badRequest('title_too_long', `title exceeds ${TITLE_MAX} characters`);
    if (title === '') title = 'untitled';
    let metadata: Record<string, unknown> = {};
    if (body.metadata !== null && typeof body.metadata === 'object') {
      if (JSON.stringify(body.metadata).length > METADATA_MAX)
        throw badRequest('metadata_too_large', `metadata exceeds ${METADATA_MAX} bytes`);
      metadata = body.metadata as Record<string, unknown>;
    }
    const profiles = Array.isArray(body.profiles) ? body.profiles.filter((p): p is string => typeof p === 'string') : [];
    const vault = typeof body.vault === 'string' && body.vault !== '' ? body.vault : 'default';
    const repo = typeof body.repo === 'string' && body.repo !== '' ? body.repo : null;
    const uuid = newLoopUuid();
    const rec: LoopRecord = {
      uuid,
      seq: this.seq++,
      id: `loop_${uuid}`,
      title,
      created_at: new Date().toISOString(),
      created_by: user,
      archived: false,
      archived_at: null,
      metadata,
      profiles,
      vault,
      repo,
      versions: { personal: 'a1b2c3d', knowledge: 'e4f5a6b', notes: 'c7d8e9f' },
      creation: {
        id: `loop_${uuid}`,
        createdBy: user,
        title,
        repo,
        profiles: [...profiles],
        vault,
        metadata: structuredClone(metadata),
        permissionMode: null,
      },
    };
    this.byUuid.set(uuid, rec);
    return rec;
  }

  get(id: string): LoopRecord | undefined {
    return this.byUuid.get(stripPrefix(id, 'loop_'));
  }

  archive(rec: LoopRecord): void {
    if (rec.archived) return; // idempotent: archived_at unchanged
    rec.archived = true;
    rec.archived_at = new Date().toISOString();
  }

  /** GET /loops with the real server's query semantics. */
  list(user: string, q: URLSearchParams): LoopPage {
    const parsed = Number.parseInt(q.get('limit') ?? '', 10);
    const limit = Math.min(100, Math.max(1, parsed || 20));
    const withArchived = q.get('archived') === 'true';
    const all = [...this.byUuid.values()]
      .filter((l) => l.created_by === user && (withArchived || !l.archived))
      .sort((a, b) => (a.created_at === b.created_at ? b.seq - a.seq : a.created_at < b.created_at ? 1 : -1));
    const after = q.get('after');
    const before = q.get('before');
    let rest: LoopRecord[] = all;
    if (after || before) {
      const cursor = stripPrefix((after || before)!, 'loop_');
      const i = all.findIndex((l) => l.uuid === cursor);
      if (i < 0) return { data: [], first_id: null, last_id: null, has_more: false };
      // [IMPL] `before` takes the newest `limit` of everything newer than the cursor, not the nearest ones.
      rest = after ? all.slice(i + 1) : all.slice(0, i);
    }
    const page = rest.slice(0, limit).map(toWire);
    return {
      data: page,
      first_id: page[0]?.id ?? null,
      last_id: page[page.length - 1]?.id ?? null,
      has_more: rest.length > limit,
    };
  }

  all(): LoopRecord[] {
    return [...this.byUuid.values()];
  }
}

/** The wire Loop object without runtime fields (as on create and in the list). */
export function toWire(rec: LoopRecord): Loop {
  const { uuid: _u, seq: _s, creation: _c, ...wire } = rec;
  return { ...wire, metadata: rec.metadata, profiles: [...rec.profiles] };
}
