import type { CacheEntry, EntryOwner } from './cache-entry.ts';

/**
 * Memory cache bounded in bytes, least recently used first out. Segments and init sections are
 * immutable; playlists carry an expiry. Pinned entries (being filled or served) are never evicted,
 * so the budget can be exceeded only by bytes that are in flight right now.
 */
export class SegmentCache implements EntryOwner {
  private readonly entries = new Map<string, CacheEntry>();
  private totalBytes = 0;
  /** The entry at the young end of `entries`, when known. */
  private youngest: CacheEntry | undefined;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.totalBytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A usable entry for `key` (filling or complete and fresh), marked recently used. */
  get(key: string, now: number): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.state === 'complete' && entry.expiresAt <= now) {
      this.remove(entry);
      return undefined;
    }
    // Map order is the LRU order: move to the young end (unless it is there already, as a key asked for
    // many times in a row is).
    if (entry !== this.youngest) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      this.youngest = entry;
    }
    return entry;
  }

  add(entry: CacheEntry): void {
    const old = this.entries.get(entry.key);
    if (old) this.remove(old);
    this.entries.set(entry.key, entry);
    this.youngest = entry;
    entry.owner = this;
    this.totalBytes += entry.size;
    this.enforce();
  }

  /** Forgets an entry; readers that hold it keep their bytes. */
  remove(entry: CacheEntry): void {
    if (entry.owner !== this) return;
    entry.owner = undefined;
    this.totalBytes -= entry.size;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (this.youngest === entry) this.youngest = undefined;
  }

  grow(_entry: CacheEntry, bytes: number): void {
    this.totalBytes += bytes;
    this.enforce();
  }

  pin(entry: CacheEntry): void {
    entry.pins++;
  }

  unpin(entry: CacheEntry): void {
    entry.pins--;
    if (entry.pins === 0 && this.totalBytes > this.maxBytes) this.enforce();
  }

  /** Evicts unpinned complete entries, oldest first, until the budget holds. */
  enforce(): void {
    if (this.totalBytes <= this.maxBytes) return;
    for (const entry of this.entries.values()) {
      if (entry.pins === 0 && entry.state === 'complete') this.remove(entry);
      if (this.totalBytes <= this.maxBytes) return;
    }
  }

  clear(): void {
    for (const entry of [...this.entries.values()]) this.remove(entry);
  }
}
