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
  /**
   * False when the session was placed without being remembered or counted: its address (or the whole
   * balancer) already holds as many sessions as allowed.
   */
  remembered: boolean;
}

/** Where a viewer's request comes from and what its player reports. */
export interface AssignContext {
  /** The relay the player is on (`_HLS_pathway`), adopted by an unplaced session while under its cap. */
  current?: string;
  /** The client address key (`clientAddressKey`); sessions are bounded per key. */
  address?: string;
}

interface ViewerSession {
  primary: string | undefined;
  address: string;
  lastSeenMs: number;
  /** The pathway the session's master playlist was built on: the BASE-ID of every steering clone. */
  basePathway: string | undefined;
}

export interface ViewerBalancerOptions {
  /** Bounded loads: no relay above this times its fair share of sessions. */
  loadFactor: number;
  sessionTtlMs: number;
  /** Memory bound: past this many sessions new ones are placed but not remembered (default 200,000). */
  maxSessions?: number;
  /** Sessions remembered per client address; past that, as for maxSessions (default: no bound). */
  maxSessionsPerAddress?: number;
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
  private readonly perAddress = new Map<string, number>();
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
   * Places or refreshes a session; `relayIds` is empty when no relay is active. `ctx.current` is the
   * relay the player is on (its `_HLS_pathway`): a session this coordinator has no relay for takes that
   * one, when it is active and under its bounded-load cap, instead of a place of its own. Coordinators
   * sharing viewers behind one address then agree with whichever of them placed the session first, and
   * a player never moves only because its steering request reached another coordinator; made-up
   * sessions naming one relay cannot pile onto it past the cap. A new session past the per-address or
   * total bound is placed the same way but neither remembered nor counted, so made-up session ids
   * cannot grow memory or push real viewers' sessions out.
   */
  assign(session: string, nowMs: number, ctx: AssignContext = {}): Assignment {
    const order = this.ring ? this.ring.candidates(session).map((r) => r.id) : [];
    const address = ctx.address ?? '';
    let s = this.sessions.get(session);
    if (!s) {
      if (!this.hasRoomFor(address)) return this.placeUnremembered(session, order, ctx.current);
      s = { primary: undefined, address, lastSeenMs: nowMs, basePathway: undefined };
      this.sessions.set(session, s);
      this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    }
    s.lastSeenMs = nowMs;
    let created = false;
    if (s.primary === undefined && order.length > 0) {
      const adopt = this.adoptable(ctx.current);
      s.primary = adopt ? ctx.current! : this.pick(order);
      this.count(s.primary, 1);
      created = !adopt;
    }
    return { session, relayIds: this.withFailover(s.primary, order), created, remembered: true };
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
      this.forget(id, s);
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

  private hasRoomFor(address: string): boolean {
    if (this.sessions.size >= (this.opts.maxSessions ?? 200_000)) return false;
    return (
      (this.perAddress.get(address) ?? 0) < (this.opts.maxSessionsPerAddress ?? Number.POSITIVE_INFINITY)
    );
  }

  /** A place by the same rules, for a session that is not remembered: it changes no count. */
  private placeUnremembered(session: string, order: string[], current: string | undefined): Assignment {
    const primary = order.length === 0 ? undefined : this.adoptable(current) ? current! : this.pick(order);
    return { session, relayIds: this.withFailover(primary, order), created: false, remembered: false };
  }

  /** True when `id` is an active relay that can take one more session within its cap. */
  private adoptable(id: string | undefined): boolean {
    return id !== undefined && this.weights.has(id) && (this.counts.get(id) ?? 0) + 1 <= this.cap(id);
  }

  private withFailover(primary: string | undefined, order: string[]): string[] {
    return primary === undefined ? [] : [primary, ...order.filter((id) => id !== primary)];
  }

  private forget(id: string, s: ViewerSession): void {
    if (s.primary !== undefined) this.count(s.primary, -1);
    this.sessions.delete(id);
    const n = (this.perAddress.get(s.address) ?? 1) - 1;
    if (n > 0) this.perAddress.set(s.address, n);
    else this.perAddress.delete(s.address);
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
