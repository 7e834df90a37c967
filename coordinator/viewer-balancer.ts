import { Ring } from '../common/ring.ts';
import type { RelayInfo } from '../common/types.ts';

/** One viewer's place: its relays, primary first, then the failover order. */
export interface Assignment {
  session: string;
  relayIds: string[];
  /**
   * True when this call placed the session (new session, or its relay left); not when it adopted the
   * relay the player was already on.
   */
  created: boolean;
}

interface ViewerSession {
  primary: string | undefined;
  lastSeenMs: number;
  /** The pathway the session's master playlist was built on: the BASE-ID of every steering clone. */
  basePathway: string | undefined;
}

export interface ViewerBalancerOptions {
  /** Bounded loads: no relay above this times its fair share of sessions. */
  loadFactor: number;
  sessionTtlMs: number;
  /** Memory bound: past this many sessions the oldest placed one is forgotten (default 200,000). */
  maxSessions?: number;
}

/**
 * Consistent hashing of viewer sessions over the active relays, with bounded loads (Mirrokni et al.):
 * a session walks the ring from its hash and takes the first relay still under its cap. A placed
 * session keeps its relay while that relay stays active, so viewers do not move when others join.
 */
export class ViewerBalancer {
  private ring: Ring | undefined;
  private weights = new Map<string, number>();
  private totalWeight = 0;
  private readonly sessions = new Map<string, ViewerSession>();
  private readonly counts = new Map<string, number>();
  private placed = 0;

  constructor(private readonly opts: ViewerBalancerOptions) {}

  /** Takes the current ring; only active relays take viewers (draining ones keep their sessions out). */
  setRelays(relays: readonly RelayInfo[]): void {
    const active = relays.filter((r) => r.state === 'active');
    this.ring = active.length > 0 ? new Ring({ version: 0, relays: active }) : undefined;
    this.weights = new Map(active.map((r) => [r.id, Math.max(1, Math.round(r.capacity))]));
    this.totalWeight = [...this.weights.values()].reduce((a, b) => a + b, 0);
    this.counts.clear();
    this.placed = 0;
    for (const s of this.sessions.values()) {
      if (s.primary !== undefined && !this.weights.has(s.primary)) s.primary = undefined;
      if (s.primary !== undefined) this.count(s.primary, 1);
    }
  }

  /**
   * Places or refreshes a session; `relayIds` is empty when no relay is active. `current` is the relay
   * the player is on (its `_HLS_pathway`): a session this coordinator has no relay for takes that one,
   * when it is active, instead of a place of its own. Coordinators sharing viewers behind one address
   * then agree with whichever of them placed the session first, and a player never moves only because
   * its steering request reached another coordinator (or one that restarted).
   */
  assign(session: string, nowMs: number, current?: string): Assignment {
    const order = this.ring ? this.ring.candidates(session).map((r) => r.id) : [];
    let s = this.sessions.get(session);
    if (!s) {
      if (this.sessions.size >= (this.opts.maxSessions ?? 200_000)) this.forgetOldest();
      s = { primary: undefined, lastSeenMs: nowMs, basePathway: undefined };
      this.sessions.set(session, s);
    }
    s.lastSeenMs = nowMs;
    let created = false;
    if (s.primary === undefined && order.length > 0) {
      const adopt = current !== undefined && this.weights.has(current);
      s.primary = adopt ? current : this.pick(order);
      this.count(s.primary, 1);
      created = !adopt;
    }
    const primary = s.primary;
    const relayIds = primary === undefined ? [] : [primary, ...order.filter((id) => id !== primary)];
    return { session, relayIds, created };
  }

  /** Remembers the pathway a session's master playlist used. */
  setBasePathway(session: string, relayId: string): void {
    const s = this.sessions.get(session);
    if (s) s.basePathway = relayId;
  }

  basePathway(session: string): string | undefined {
    return this.sessions.get(session)?.basePathway;
  }

  /** Forgets sessions not seen for sessionTtlMs; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (nowMs - s.lastSeenMs < this.opts.sessionTtlMs) continue;
      if (s.primary !== undefined) this.count(s.primary, -1);
      this.sessions.delete(id);
      n++;
    }
    return n;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Sessions per active relay. */
  loads(): Map<string, number> {
    return new Map([...this.weights.keys()].map((id) => [id, this.counts.get(id) ?? 0]));
  }

  /** Maps iterate in insertion order, so the first session is the one created longest ago. */
  private forgetOldest(): void {
    const [id, s] = this.sessions.entries().next().value as [string, ViewerSession];
    if (s.primary !== undefined) this.count(s.primary, -1);
    this.sessions.delete(id);
  }

  private count(id: string, delta: number): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + delta);
    this.placed += delta;
  }

  /** The relay's cap once one more session is placed: never below its fair share, rounded up. */
  private cap(id: string): number {
    const share = ((this.placed + 1) * this.weights.get(id)!) / this.totalWeight;
    return Math.max(Math.ceil(share), Math.floor(this.opts.loadFactor * share));
  }

  private pick(order: string[]): string {
    for (const id of order) {
      if ((this.counts.get(id) ?? 0) + 1 <= this.cap(id)) return id;
    }
    // Unreachable while caps sum to at least the sessions placed; kept as a safe fallback.
    return order[0]!;
  }
}
