/** One place a fill may come from. */
export interface FillSource {
  kind: 'origin' | 'peer';
  id: string;
  /** Base URL (`http://host:port`), without trailing slashes. */
  base: string;
}

/** A ring member as the order needs it. */
export interface RingMember {
  id: string;
  url: string;
}

/** The ring around a fill's key, as seen from this relay. */
export interface RingPosition {
  /** This relay's id. */
  self: string;
  /** The key's ring members in ring order (owner first), `peerAttempts + 2` of them at most. */
  candidates: readonly RingMember[];
  /** At most this many members before this relay are asked. */
  peerAttempts: number;
  /** Peers that refused a hop lately for lack of a link to this origin: skipped. */
  refused: ReadonlySet<string>;
}

/** Everything the upstream order of one fill depends on; the caller reads it from the relay's state. */
export interface SourceOrderInput {
  /** The stream's origin, as a base URL. */
  originBase: string;
  /** This relay takes its link to that origin as broken (relay/origin-breaker.ts). */
  linkDown: boolean;
  /** The ring around the key; absent for a hop request (origin only, never another peer). */
  ring?: RingPosition;
}

/** A base URL without trailing slashes: how origins are keyed (breaker, refusals) and joined to paths. */
export const baseOf = (url: string): string => url.replace(/\/+$/, '');

const peer = (r: RingMember): FillSource => ({ kind: 'peer', id: r.id, base: baseOf(r.url) });

/**
 * Upstream order of one fill (docs/architecture.md, "The hop rule"): the members before this relay in
 * the key's order (the owner first), then the origin; the owner itself goes to the origin first. One
 * member after this relay is added as a hop: after the origin for the owner, and before it for anyone
 * while the link is down. Pure: the same input always gives the same order.
 */
export function sourceOrder(input: SourceOrderInput): FillSource[] {
  const { linkDown, ring } = input;
  const origin: FillSource = { kind: 'origin', id: 'origin', base: input.originBase };
  // A peer asks us because its own way failed: answering "no" at once beats a timeout.
  if (!ring) return linkDown ? [] : [origin];
  const { self, candidates, peerAttempts, refused } = ring;
  if (candidates.length === 0) return [origin];
  // Members before this relay in the key's order: the owner first. The owner has none and fills from
  // the origin; every other relay asks those, then the origin. So after a failing owner the next member
  // goes to the origin itself, the one after that asks it first, and so on: every relay lands on the
  // same fill instead of each fetching for another.
  const mine = candidates.findIndex((r) => r.id === self);
  const ahead = (mine < 0 ? candidates : candidates.slice(0, mine))
    .filter((r) => !refused.has(r.id))
    .slice(0, peerAttempts)
    .map(peer);
  // One member after us fills over its own link (a hop request, which never goes on to another peer)
  // when our origin fetch fails, or first, while our link is taken as broken. Others only need it
  // when the link is down: their own origin fetch was the last resort.
  const next = candidates.find(
    (r, i) =>
      r.id !== self && !refused.has(r.id) && !ahead.some((a) => a.id === r.id) && (mine < 0 || i > mine),
  );
  const behind = next ? [peer(next)] : [];
  if (mine === 0) return linkDown ? [...behind, origin] : [origin, ...behind];
  return linkDown ? [...ahead, ...behind, origin] : [...ahead, origin];
}
