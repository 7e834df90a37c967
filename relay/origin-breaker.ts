import type { Logger } from '../common/log.ts';

/** An origin link taken as broken: the next probe's timer and when a fill last wanted the link. */
interface OpenLink {
  timer: NodeJS.Timeout | undefined;
  wantedAt: number;
}

export interface OriginBreakerOptions {
  /** Wait before each probe (after the link failed, or after the previous probe got no answer); 0 = off. */
  probeAfterMs: number;
  /** A probe without an answer in this long has failed. */
  probeTimeoutMs: number;
  log: Logger;
  /** How probes are sent (the cluster's CA for https origins, common/ca-fetch.ts); absent: global fetch. */
  fetch?: typeof fetch;
  /** The clock (tests pass their own). */
  now?: () => number;
}

/**
 * A peer that refused a hop request because its link to the origin is failing (502 with
 * `X-Ringcast-Error: RC_ORIGIN_LINK_DOWN`) is skipped this long for that origin's streams, so every
 * relay's fill goes to the members after it at once, and they all meet on one origin fetch.
 */
export const PEER_REFUSED_MS = 5000;

/** An event loop this late woke from a freeze (load alone rarely does that). */
const FROZEN_LATE_MS = 2500;
/** Link failures this soon after a freeze are the freeze's, not the link's. */
const FROZEN_GRACE_MS = 2000;
const TICK_MS = 250;

/**
 * An open link no fill has wanted for this many probe waits (30 s at the default 1 s) is forgotten:
 * its stream ended or moved to another origin.
 */
const UNWANTED_PROBES = 30;

const NONE: ReadonlySet<string> = new Set();

/**
 * The health of this relay's origin links (docs/architecture.md, "The hop rule"). A circuit breaker per
 * origin base URL, open while the link is taken as broken (a connect error, reset or timeout of a fill).
 * No viewer's fill is spent testing the link again: a probe (`GET <origin>/healthz`, redirects not
 * followed, any HTTP answer counts) does, and its answer closes the breaker, as does any fill from that
 * origin that succeeds. It also keeps the peers that refused a hop lately for lack of their own link.
 */
export class OriginBreaker {
  private readonly open = new Map<string, OpenLink>();
  /** Probes in flight, aborted at close. */
  private readonly inFlight = new Set<AbortController>();
  private closed = false;
  /** Per origin base: peers that refused a hop for lack of a link to it, and until when they are skipped. */
  private readonly refusals = new Map<string, Map<string, number>>();
  private readonly now: () => number;
  /**
   * A process that was frozen (SIGSTOP, a long GC, a starved VM) sees every running upstream timer
   * expire at once when it wakes: those timeouts say nothing about the link. A tick notes when the
   * event loop last ran late.
   */
  private lastTick: number;
  private frozenAt = Number.NEGATIVE_INFINITY;
  private readonly ticker = setInterval(() => this.tick(), TICK_MS).unref();

  constructor(private readonly o: OriginBreakerOptions) {
    this.now = o.now ?? Date.now;
    this.lastTick = this.now();
  }

  /** Is the link to `base` taken as broken? (Notes that a fill wanted it.) */
  isOpen(base: string): boolean {
    if (this.open.size === 0) return false;
    const link = this.open.get(base);
    if (!link) return false;
    link.wantedAt = this.now();
    return true;
  }

  /** A fill from `base` failed on the link (ignored just after a freeze: not the link's fault). */
  failed(base: string): void {
    if (this.closed || this.o.probeAfterMs <= 0 || this.open.has(base)) return;
    // Woken from a freeze (the tick has not run yet, or ran late just now).
    this.tick();
    if (this.now() - this.frozenAt < FROZEN_GRACE_MS) return;
    this.o.log.warn(
      { origin: base, probeAfterMs: this.o.probeAfterMs },
      'origin link failing: ring peers first until it answers',
    );
    const link: OpenLink = { timer: undefined, wantedAt: this.now() };
    this.open.set(base, link);
    this.scheduleProbe(base, link);
  }

  /** Something from `base` arrived: the link works. */
  succeeded(base: string): void {
    const link = this.open.get(base);
    if (!link) return;
    clearTimeout(link.timer);
    this.open.delete(base);
    this.o.log.info({ origin: base }, 'origin link answers again');
  }

  /** Links taken as broken now. */
  get openCount(): number {
    return this.open.size;
  }

  /** `peerId` refused a hop for lack of its own link to the origin at `base`: skip it for a while. */
  peerRefused(peerId: string, base: string): void {
    const peers = this.refusals.get(base) ?? new Map<string, number>();
    peers.set(peerId, this.now() + PEER_REFUSED_MS);
    this.refusals.set(base, peers);
  }

  /** `peerId` served a fill for the origin at `base`: its link works. */
  peerServed(peerId: string, base: string): void {
    const peers = this.refusals.get(base);
    if (!peers?.delete(peerId)) return;
    if (peers.size === 0) this.refusals.delete(base);
  }

  /** Peers that refused a hop for the origin at `base` lately (expired refusals are forgotten). */
  refusedPeers(base: string): ReadonlySet<string> {
    const peers = this.refusals.get(base);
    if (!peers) return NONE;
    const now = this.now();
    for (const [id, until] of peers) if (now >= until) peers.delete(id);
    if (peers.size === 0) this.refusals.delete(base);
    return new Set(peers.keys());
  }

  /** Stops probing (probes in flight are aborted) and forgets every link. */
  close(): void {
    clearInterval(this.ticker);
    this.closed = true;
    for (const probe of this.inFlight) probe.abort();
    for (const link of this.open.values()) clearTimeout(link.timer);
    this.open.clear();
  }

  private tick(): void {
    const now = this.now();
    if (now - this.lastTick > FROZEN_LATE_MS) this.frozenAt = now;
    this.lastTick = now;
  }

  private scheduleProbe(base: string, link: OpenLink): void {
    link.timer = setTimeout(() => void this.probe(base, link), this.o.probeAfterMs);
    link.timer.unref();
  }

  private async probe(base: string, link: OpenLink): Promise<void> {
    if (this.now() - link.wantedAt > UNWANTED_PROBES * this.o.probeAfterMs) {
      this.open.delete(base);
      this.o.log.info({ origin: base }, 'origin link no longer wanted: stopped probing it');
      return;
    }
    let answered = false;
    const probe = new AbortController();
    const timer = setTimeout(() => probe.abort(), this.o.probeTimeoutMs);
    this.inFlight.add(probe);
    try {
      const res = await (this.o.fetch ?? fetch)(`${base}/healthz`, {
        redirect: 'manual',
        headers: { 'user-agent': 'ringcast-relay' },
        signal: probe.signal,
      });
      answered = true;
      await res.body?.cancel().catch(() => undefined);
    } catch {
      // No answer: the link is still broken (or this relay is closing).
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(probe);
    }
    // Closed meanwhile, or closed and opened again on newer evidence: this probe has no say.
    if (this.open.get(base) !== link) return;
    if (answered) this.succeeded(base);
    else this.scheduleProbe(base, link);
  }
}
