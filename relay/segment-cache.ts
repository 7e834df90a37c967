import type { CacheEntry, EntryOwner } from './cache-entry.ts';

/**
 * Memory cache bounded in bytes, least recently used first out. Segments and init sections are
 * immutable; playlists and negative (404) entries carry an expiry. Pinned entries (being filled or
 * served) are never evicted, so the budget can be exceeded only by bytes that are in flight right now.
 * Over budget, expired entries go first, then other short-lived ones, and only then live segments: a
 * flood of short-lived objects (blocking reloads, missing names) cannot push the live window out.
 */
export class SegmentCache implements EntryOwner {
  private readonly entries = new Map<string, CacheEntry>();
  /** Entries with a finite expiry, in the order they got it (roughly their expiry order). */
  private readonly shortLived = new Set<CacheEntry>();
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
    // Entries that expired meanwhile must not hold budget: cheap, stops at the first fresh one.
    if (this.shortLived.size > 0) this.sweep(Date.now());
    this.entries.set(entry.key, entry);
    this.youngest = entry;
    entry.owner = this;
    this.totalBytes += entry.size;
    this.enforce();
  }

  /** Gives a cached entry its expiry: it leaves when read after it, swept, or first under pressure. */
  expire(entry: CacheEntry, expiresAt: number): void {
    entry.expiresAt = expiresAt;
    if (entry.owner === this && Number.isFinite(expiresAt)) this.shortLived.add(entry);
  }

  /** Drops expired entries (oldest expiry first; stops at the first fresh one unless `all`). */
  sweep(now: number, all = false): void {
    for (const entry of this.shortLived) {
      if (entry.expiresAt > now) {
        if (all) continue;
        return;
      }
      if (entry.pins === 0) this.remove(entry);
    }
  }

  /** Forgets an entry; readers that hold it keep their bytes. */
  remove(entry: CacheEntry): void {
    if (entry.owner !== this) return;
    entry.owner = undefined;
    this.shortLived.delete(entry);
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

  /**
   * Evicts unpinned complete entries until the budget holds: expired ones, then short-lived ones
   * (oldest expiry first), then the rest least recently used first.
   */
  enforce(): void {
    if (this.totalBytes <= this.maxBytes) return;
    this.sweep(Date.now(), true);
    for (const entry of this.shortLived) {
      if (entry.pins === 0 && entry.state === 'complete') this.remove(entry);
      if (this.totalBytes <= this.maxBytes) return;
    }
    for (const entry of this.entries.values()) {
      if (entry.pins === 0 && entry.state === 'complete') this.remove(entry);
      if (this.totalBytes <= this.maxBytes) return;
    }
  }

  clear(): void {
    for (const entry of [...this.entries.values()]) this.remove(entry);
  }
}
