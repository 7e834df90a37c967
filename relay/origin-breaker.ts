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
}

/**
 * An open link no fill has wanted for this many probe waits (30 s at the default 1 s) is forgotten:
 * its stream ended or moved to another origin.
 */
const UNWANTED_PROBES = 30;

/**
 * Circuit breaker per origin base URL, open while this relay's link to it is taken as broken (a connect
 * error, reset or timeout of a fill). No viewer's fill is spent testing the link again: a probe
 * (`GET <origin>/healthz`, redirects not followed, any HTTP answer counts) does, and its answer closes
 * the breaker, as does any fill from that origin that succeeds.
 */
export class OriginBreaker {
  private readonly open = new Map<string, OpenLink>();
  /** Probes in flight, aborted at close. */
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly o: OriginBreakerOptions) {}

  /** Is the link to `base` taken as broken? (Notes that a fill wanted it.) */
  isOpen(base: string): boolean {
    if (this.open.size === 0) return false;
    const link = this.open.get(base);
    if (!link) return false;
    link.wantedAt = Date.now();
    return true;
  }

  /** A fill from `base` failed on the link. */
  failed(base: string): void {
    if (this.closed || this.o.probeAfterMs <= 0 || this.open.has(base)) return;
    this.o.log.warn(
      { origin: base, probeAfterMs: this.o.probeAfterMs },
      'origin link failing: ring peers first until it answers',
    );
    const link: OpenLink = { timer: undefined, wantedAt: Date.now() };
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

  /** Stops probing (probes in flight are aborted) and forgets every link. */
  close(): void {
    this.closed = true;
    for (const probe of this.inFlight) probe.abort();
    for (const link of this.open.values()) clearTimeout(link.timer);
    this.open.clear();
  }

  private scheduleProbe(base: string, link: OpenLink): void {
    link.timer = setTimeout(() => void this.probe(base, link), this.o.probeAfterMs);
    link.timer.unref();
  }

  private async probe(base: string, link: OpenLink): Promise<void> {
    if (Date.now() - link.wantedAt > UNWANTED_PROBES * this.o.probeAfterMs) {
      this.open.delete(base);
      this.o.log.info({ origin: base }, 'origin link no longer wanted: stopped probing it');
      return;
    }
    let answered = false;
    const probe = new AbortController();
    const timer = setTimeout(() => probe.abort(), this.o.probeTimeoutMs);
    this.inFlight.add(probe);
    try {
      const res = await fetch(`${base}/healthz`, {
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
