// A lowdb adapter that never leaves a torn file. lowdb's own writer (steno) writes a temp file and
// renames it, but does not fsync, so after a power loss the rename can survive while the data does
// not. Here: write `<path>.tmp-<pid>`, fsync it, rename over `<path>`, fsync the folder.
// A file that does not load is moved aside (never deleted) and reported, and the store starts empty.

import { access, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';

/** Options of an `AtomicJsonFile`. */
export interface AtomicJsonFileOptions {
  /** Says why a loaded value is unusable, or undefined if fine. Default: any JSON is fine. */
  validate?: (value: unknown) => string | undefined;
  /** Told about a corrupt file being moved aside. Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** File mode for new files. Default 0o600: the store holds pairing codes and chat state. */
  mode?: number;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function defaultWarning(message: string): void {
  process.emitWarning(message, 'LoopbridgeStoreWarning');
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal.
    return errnoCode(error) === 'EPERM';
  }
}

/** Pieces of about this many characters are written one after the other. */
const PIECE_CHARS = 64 * 1024;

/**
 * `JSON.stringify(data)` as a list of strings of about PIECE_CHARS each (their concatenation is exactly
 * that text), built synchronously. A store of a few MB written as one string and one Buffer every few
 * hundred ms puts MBs in V8's large-object space that only a full GC frees; small pieces die young.
 */
export function serializeInPieces(data: unknown): string[] {
  const pieces: string[] = [];
  let current: string[] = [];
  let size = 0;
  const put = (s: string): void => {
    current.push(s);
    size += s.length;
    if (size >= PIECE_CHARS) {
      pieces.push(current.join(''));
      current = [];
      size = 0;
    }
  };
  const walk = (value: unknown, depth: number): void => {
    // Two levels down (the sections, then their keys) the values are small: stringify them whole.
    const plain = value !== null && typeof value === 'object' && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
    if (depth >= 2 || !plain) {
      put(JSON.stringify(value) ?? 'null');
      return;
    }
    put('{');
    let first = true;
    for (const key of Object.keys(value as object)) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue; // as JSON.stringify skips them
      put(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      walk(v, depth + 1);
    }
    put('}');
  };
  walk(data, 0);
  if (current.length) pieces.push(current.join(''));
  return pieces;
}

/** JSON file adapter for lowdb with fsync'd atomic replace; see the file comment. */
export class AtomicJsonFile<T> implements Adapter<T> {
  readonly #path: string;
  readonly #tmpPath: string;
  readonly #validate: (value: unknown) => string | undefined;
  readonly #warn: (message: string) => void;
  readonly #mode: number;

  constructor(path: string, options: AtomicJsonFileOptions = {}) {
    this.#path = path;
    this.#tmpPath = `${path}.tmp-${process.pid}`;
    this.#validate = options.validate ?? (() => undefined);
    this.#warn = options.onWarning ?? defaultWarning;
    this.#mode = options.mode ?? 0o600;
  }

  /** The parsed file; null if it is missing, or was corrupt and has been moved aside. */
  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw error;
    }
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(text) as unknown;
      problem = this.#validate(value);
    } catch {
      // The parser's own message quotes file content, which may be private; keep it out of logs.
      problem = `not valid JSON (${Buffer.byteLength(text)} bytes)`;
    }
    if (problem === undefined) return value as T;
    const aside = await this.#freeAsidePath();
    await rename(this.#path, aside);
    this.#warn(`store file ${this.#path} could not be loaded: ${problem}; moved it to ${aside} and started empty`);
    return null;
  }

  /** `<path>.corrupt-<epoch ms>`, suffixed if taken, so an earlier corrupt file is never overwritten. */
  async #freeAsidePath(): Promise<string> {
    const base = `${this.#path}.corrupt-${Date.now()}`;
    for (let n = 0; ; n++) {
      const candidate = n === 0 ? base : `${base}-${n}`;
      try {
        await access(candidate);
      } catch {
        return candidate;
      }
    }
  }

  /** Serializes `data` synchronously (a snapshot), then replaces the file atomically. */
  write(data: T): Promise<void> {
    return this.#replace(serializeInPieces(data));
  }

  async #replace(pieces: string[]): Promise<void> {
    const file = await open(this.#tmpPath, 'w', this.#mode);
    try {
      for (const piece of pieces) await file.write(piece, null, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(this.#tmpPath, this.#path);
    await this.#syncFolder();
  }

  /** Makes the rename itself durable. Some platforms cannot open a folder; there it is skipped. */
  async #syncFolder(): Promise<void> {
    let folder;
    try {
      folder = await open(dirname(this.#path), 'r');
    } catch {
      return;
    }
    try {
      await folder.sync();
    } catch (error) {
      if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(errnoCode(error) ?? '')) throw error;
    } finally {
      await folder.close();
    }
  }

  /**
   * Deletes temp files that crashed writers left behind (their pid is gone, or is ours: in a
   * container the daemon is often pid 1 every time). Returns how many were removed.
   */
  async removeStaleTempFiles(): Promise<number> {
    const prefix = `${basename(this.#path)}.tmp-`;
    const folder = dirname(this.#path);
    let removed = 0;
    for (const name of await readdir(folder)) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(name.slice(prefix.length));
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (pid !== process.pid && isProcessAlive(pid)) continue;
      try {
        await unlink(join(folder, name));
        removed++;
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    }
    return removed;
  }
}
