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

/** The emulator's own timing: how late it wrote packets it had held for a delay or the pacer. */
export interface EmulatorTiming {
  heldPackets: number;
  meanLateUs: number;
  /** Upper bounds from a power-of-two histogram: half (p50) or 99% (p99) were at most this late. */
  p50LateUs: number;
  p99LateUs: number;
  maxLateUs: number;
}

/**
 * The bound below which a share `q` of the held packets fall, from the emulator's histogram
 * (bucket i counts packets late by less than 2^i µs; the last bucket has no bound: the max).
 */
export function lateQuantileUs(hist: readonly number[], q: number, maxUs: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (const [i, count] of hist.entries()) {
    seen += count;
    if (seen >= q * total) return i === hist.length - 1 ? maxUs : Math.min(2 ** i, maxUs);
  }
  return maxUs;
}

/** What `stats` reports: per-link counters, packets for no lab host, and the emulator's timing. */
export interface EmulatorStats {
  unroutable: number;
  timing: EmulatorTiming;
  links: LinkStats[];
}

/** Parses the emulator's `stats` reply, naming hosts by index. */
export function parseStats(line: string, names: readonly string[]): EmulatorStats {
  const m = /^stats (\d+) (\d+) (\d+) (\d+) ([\d,]+) ?(.*)$/.exec(line);
  if (!m) throw new Error(`link emulator: not a stats line: ${line.slice(0, 80)}`);
  const links: LinkStats[] = [];
  for (const entry of m[6].split(';')) {
    if (entry === '') continue;
    const [s, d, forwarded, lost, queueDropped, downDropped, writeDropped] = entry.split(',').map(Number);
    links.push({ from: names[s], to: names[d], forwarded, lost, queueDropped, downDropped, writeDropped });
  }
  const [heldPackets, sumUs, maxLateUs] = [Number(m[2]), Number(m[3]), Number(m[4])];
  const hist = m[5].split(',').map(Number);
  const timing = {
    heldPackets,
    meanLateUs: heldPackets > 0 ? sumUs / heldPackets : 0,
    p50LateUs: lateQuantileUs(hist, 0.5, maxLateUs),
    p99LateUs: lateQuantileUs(hist, 0.99, maxLateUs),
    maxLateUs,
  };
  return { unroutable: Number(m[1]), timing, links };
}
