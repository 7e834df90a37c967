import HashRing from 'hashring';
import type { RelayInfo, RingView } from './types.ts';

/**
 * The consistent-hash ring of relays. Every node builds it from the same RingView and so maps every
 * ring key to the same relays. Draining relays stay in the ring (they keep serving what they own);
 * they only stop taking new viewers.
 */
export class Ring {
  readonly version: number;
  readonly relays: readonly RelayInfo[];
  private readonly byId: Map<string, RelayInfo>;
  private readonly hashring: HashRing | undefined;

  constructor(view: RingView) {
    this.version = view.version;
    this.relays = [...view.relays].sort((a, b) => a.id.localeCompare(b.id));
    this.byId = new Map(this.relays.map((r) => [r.id, r]));
    if (this.relays.length > 0) {
      const servers: Record<string, { weight: number }> = {};
      for (const r of this.relays) servers[r.id] = { weight: Math.max(1, Math.round(r.capacity)) };
      this.hashring = new HashRing(servers, 'md5');
    }
  }

  get size(): number {
    return this.relays.length;
  }

  get(id: string): RelayInfo | undefined {
    return this.byId.get(id);
  }

  /** The relay that owns `key`, or undefined for an empty ring. */
  owner(key: string): RelayInfo | undefined {
    const id = this.hashring?.get(key);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Up to `count` distinct relays for `key`, owner first: the order fills and failover follow. */
  candidates(key: string, count = this.relays.length): RelayInfo[] {
    if (!this.hashring || count <= 0) return [];
    const ids = this.hashring.range(key, Math.min(count, this.relays.length), true) as string[];
    return ids.map((id) => this.byId.get(id)!).filter(Boolean);
  }

  toJSON(): RingView {
    return { version: this.version, relays: [...this.relays] };
  }
}
