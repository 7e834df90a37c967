/**
 * One directed link's parameters, as the link emulator (native/tun.c) applies them, and the pure
 * conversions between the harness's units and the emulator's control lines (docs/network-lab.md).
 */

/** A directed link between two lab hosts. */
export interface LinkSpec {
  /** One-way delay added to every packet. */
  delayMs: number;
  /** Uniform ± jitter around delayMs; packets on one link are never reordered by it. */
  jitterMs: number;
  /** Share of packets dropped at random, 0 to 100. */
  lossPct: number;
  /** Pacing rate; 0 leaves the link unpaced (as fast as the emulator forwards). */
  rateMbit: number;
  /** Bytes that may wait for the pacer before new packets are tail-dropped; 0: a default from the rate. */
  queueBytes: number;
  /** false: every packet is dropped (a partition). */
  up: boolean;
}

/** A link that adds nothing: what every link starts as unless the lab is given another default. */
export const openLink: Readonly<LinkSpec> = Object.freeze({
  delayMs: 0,
  jitterMs: 0,
  lossPct: 0,
  rateMbit: 0,
  queueBytes: 0,
  up: true,
});

/** Counters of one directed link, from the emulator. */
export interface LinkStats {
  from: string;
  to: string;
  forwarded: number;
  /** Dropped by the loss rate. */
  lost: number;
  /** Tail-dropped because the paced queue was full. */
  queueDropped: number;
  /** Dropped because the link was down. */
  downDropped: number;
  /** Dropped because the destination's interface would not take it. */
  writeDropped: number;
}

const numericKeys = ['delayMs', 'jitterMs', 'lossPct', 'rateMbit', 'queueBytes'] as const;

/** The spec `patch` makes of `base`; throws one error naming every bad key. */
export function mergeLink(base: Readonly<LinkSpec>, patch: Partial<LinkSpec>): LinkSpec {
  const spec = { ...base, ...patch };
  const bad: string[] = [];
  for (const key of numericKeys) {
    if (!Number.isFinite(spec[key]) || spec[key] < 0) bad.push(`'${key}' must be a number ≥ 0`);
  }
  if (spec.lossPct > 100) bad.push("'lossPct' must be at most 100");
  if (typeof spec.up !== 'boolean') bad.push("'up' must be true or false");
  if (bad.length > 0) throw new Error(`link spec: ${bad.join('; ')}`);
  return spec;
}

/**
 * The paced queue's size: as given, or 100 ms at the link's rate (a router-like buffer: enough to
 * ride out a burst, small enough that TCP sees drops rather than seconds of queueing), at least
 * ten full-size packets.
 */
export function queueBytesFor(spec: Readonly<LinkSpec>): number {
  if (spec.queueBytes > 0) return Math.round(spec.queueBytes);
  return Math.max(15_000, Math.round((spec.rateMbit * 1e6 * 0.1) / 8));
}

/** The emulator's control line setting link `src` → `dst` (host indexes) to `spec`. */
export function linkCommand(src: number, dst: number, spec: Readonly<LinkSpec>): string {
  const us = (ms: number) => Math.round(ms * 1000);
  return [
    'link',
    src,
    dst,
    us(spec.delayMs),
    us(spec.jitterMs),
    Math.round(spec.lossPct * 10_000),
    Math.round(spec.rateMbit * 1e6),
    queueBytesFor(spec),
    spec.up ? 1 : 0,
  ].join(' ');
}

/** Parses the emulator's `stats` reply, naming hosts by index. */
export function parseStats(
  line: string,
  names: readonly string[],
): { unroutable: number; links: LinkStats[] } {
  const m = /^stats (\d+) ?(.*)$/.exec(line);
  if (!m) throw new Error(`link emulator: not a stats line: ${line.slice(0, 80)}`);
  const links: LinkStats[] = [];
  for (const entry of m[2].split(';')) {
    if (entry === '') continue;
    const [s, d, forwarded, lost, queueDropped, downDropped, writeDropped] = entry.split(',').map(Number);
    links.push({ from: names[s], to: names[d], forwarded, lost, queueDropped, downDropped, writeDropped });
  }
  return { unroutable: Number(m[1]), links };
}
