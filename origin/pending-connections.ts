/** How many RTMP connections may wait unadmitted (no accepted publish, not the origin's own pull). */
export interface PendingLimits {
  /** Per address key (common/address-key.ts: an IPv4 address, an IPv6 /64). */
  perAddress: number;
  total: number;
}

/**
 * Each connection may hold up to 256 KiB of parser buffers before its publish is authorised, for up to
 * the idle timeout: 64 per address, 1,024 in all bounds that at ~16 MiB per address and ~256 MiB in
 * all. ffmpeg and OBS use one connection per stream; the fuzz test runs 32 at once from one address.
 */
export const DEFAULT_PENDING_LIMITS: PendingLimits = { perAddress: 64, total: 1024 };

/** A place taken by one connection; `release` gives it back (once, whatever calls it again). */
export type PendingPlace = { release: () => void } | { refused: string };

/**
 * Connections not yet admitted, counted per address and in all, so many connections cannot add up
 * what each one's caps bound (before: no limit on how many a stranger opened).
 */
export class PendingConnections {
  private readonly limits: PendingLimits;
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(limits: Partial<PendingLimits> = {}) {
    this.limits = { ...DEFAULT_PENDING_LIMITS, ...limits };
  }

  /**
   * Takes a place for a connection from `address`, or says why there is none. `inTotal` false: the
   * connection counts only against its address (loopback, where the origin's own pull comes from, so
   * strangers filling the total cannot stop a transcoder from reading its publisher).
   */
  take(address: string, inTotal = true): PendingPlace {
    const n = this.byAddress.get(address) ?? 0;
    if (inTotal && this.total >= this.limits.total)
      return { refused: `${this.total} connections waiting to publish already` };
    if (n >= this.limits.perAddress)
      return { refused: `${n} connections waiting to publish from ${address} already` };
    this.byAddress.set(address, n + 1);
    if (inTotal) this.total += 1;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        if (inTotal) this.total -= 1;
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      },
    };
  }

  /** Connections waiting now (for tests). */
  get size(): number {
    return this.total;
  }

  /** Addresses with a connection waiting (for tests: the map empties as connections leave). */
  get addresses(): number {
    return this.byAddress.size;
  }
}
