import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../common/log.ts';

/** Fixed label the hop token is computed over: one token per cluster secret. */
const HOP_LABEL = 'ringcast-hop-v1';
/** Addresses whose forged hop header was logged; cleared when full, so it stays bounded. */
const LOGGED_MAX = 1024;

/**
 * The `X-Ringcast-Hop` value ring members send to each other: HMAC-SHA256 of the cluster secret over a
 * fixed label (base64url). Only holders of the secret can make it; a viewer never sees it.
 */
export function hopToken(secret: string): string {
  return createHmac('sha256', secret).update(HOP_LABEL).digest('base64url');
}

/**
 * Decides whether a request's hop header comes from a ring member. The token is computed once; each
 * request with the header costs one constant-time compare. A wrong value makes the request a plain
 * viewer's, logged once per client address.
 */
export class HopAuth {
  readonly token: string;
  private readonly tokenBytes: Buffer;
  private readonly logged = new Set<string>();
  /** Requests whose hop header was missing the right token. */
  refused = 0;

  constructor(
    secret: string,
    private readonly log: Logger,
  ) {
    this.token = hopToken(secret);
    this.tokenBytes = Buffer.from(this.token);
  }

  /** True when `value` (the header, if sent) is this cluster's token; `address` names the sender. */
  check(value: string | undefined, address: () => string): boolean {
    if (value === undefined) return false;
    if (value.length === this.token.length && timingSafeEqual(Buffer.from(value, 'latin1'), this.tokenBytes))
      return true;
    this.refused++;
    const from = address();
    if (!this.logged.has(from)) {
      if (this.logged.size >= LOGGED_MAX) this.logged.clear();
      this.logged.add(from);
      this.log.warn({ address: from }, 'hop header without the cluster token: served as a viewer');
    }
    return false;
  }
}
