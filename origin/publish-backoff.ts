import { addressKey } from '../common/address-key.ts';

/** How refused publish attempts from one address are limited. */
export interface PublishBackoffPolicy {
  /** Refusals within `windowMs` that lock the address out (the next attempt is refused at once). */
  freeRefusals: number;
  windowMs: number;
  /** The first lockout; each further refusal doubles it, up to `maxLockoutMs`. */
  lockoutMs: number;
  maxLockoutMs: number;
  /** Addresses remembered at most: the oldest record goes first. */
  maxAddresses: number;
}

/** 5 wrong keys a minute, then 2 s, 4 s, … up to 5 min of immediate refusals. */
export const DEFAULT_PUBLISH_BACKOFF: PublishBackoffPolicy = {
  freeRefusals: 5,
  windowMs: 60_000,
  lockoutMs: 2_000,
  maxLockoutMs: 300_000,
  maxAddresses: 10_000,
};

interface AddressRecord {
  /** Refusals counted in the current window (the window starts at the first). */
  refusals: number;
  windowStart: number;
  lockedUntil: number;
}

/**
 * Refused publish attempts per remote address (no port): past `freeRefusals` in a window the address
 * is refused at once, without asking anyone, for an exponentially growing time. The map is bounded,
 * so many addresses cannot grow it; an evicted address merely starts again from zero.
 */
export class PublishBackoff {
  private readonly policy: PublishBackoffPolicy;
  private readonly records = new Map<string, AddressRecord>();
  private readonly now: () => number;

  constructor(policy: Partial<PublishBackoffPolicy> = {}, now: () => number = Date.now) {
    this.policy = { ...DEFAULT_PUBLISH_BACKOFF, ...policy };
    this.now = now;
  }

  /** Milliseconds `address` is still locked out for (0 = may try). */
  lockedFor(address: string): number {
    const r = this.records.get(address);
    return r ? Math.max(0, r.lockedUntil - this.now()) : 0;
  }

  /** Records a refusal of `address`; returns the lockout it now has (0 = none yet). */
  refused(address: string): number {
    const p = this.policy;
    const now = this.now();
    let r = this.records.get(address);
    // Forgiven: a window without reaching the limit, or a quiet window after the last lockout ended.
    if (r && (r.lockedUntil === 0 ? now - r.windowStart > p.windowMs : now - r.lockedUntil > p.windowMs))
      r = undefined;
    r ??= { refusals: 0, windowStart: now, lockedUntil: 0 };
    r.refusals += 1;
    const over = r.refusals - p.freeRefusals;
    if (over >= 0) r.lockedUntil = now + Math.min(p.maxLockoutMs, p.lockoutMs * 2 ** Math.min(over, 30));
    // Re-inserted at the end: Map order is then least recently refused first.
    this.records.delete(address);
    this.records.set(address, r);
    while (this.records.size > p.maxAddresses) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
    return Math.max(0, r.lockedUntil - now);
  }

  /** An accepted publish clears the address's record. */
  accepted(address: string): void {
    this.records.delete(address);
  }

  /** Addresses remembered (for tests and metrics). */
  get size(): number {
    return this.records.size;
  }
}

/**
 * The key NMS's `address:port` counts under (common/address-key.ts): the IPv4 address, or the /64 of an
 * IPv6 one, so an attacker cannot step round the limits through the addresses of its own /64.
 */
export function addressOf(ip: string): string {
  return addressKey(ip.replace(/:\d+$/, ''));
}
