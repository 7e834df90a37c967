/**
 * ISO BMFF (fragmented MP4) box reading: a streaming splitter for top-level boxes and the few
 * fields the packager needs from `moov` (tracks, timescales, codecs); `moof` is read in moof-parser.ts.
 */

/** A complete top-level box with its bytes (header included). */
export interface TopBox {
  type: string;
  data: Buffer;
}

/** A box inside a buffer: `start` is where its payload begins, `end` where the box ends. */
export interface BoxRange {
  type: string;
  start: number;
  end: number;
}

/** Largest top-level box accepted; a bigger size means the stream is corrupt. */
const MAX_BOX_BYTES = 64 * 1024 * 1024;

/** Splits a byte stream into complete top-level boxes, across chunk boundaries. */
export class BoxSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Adds bytes; returns every box completed by them. Throws on a corrupt size. */
  push(chunk: Buffer): TopBox[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: TopBox[] = [];
    for (;;) {
      const size = this.nextBoxSize();
      if (size === undefined || size > this.pendingBytes) break;
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      const data = all.subarray(0, size);
      const rest = all.subarray(size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      out.push({ type: data.toString('latin1', 4, 8), data });
    }
    return out;
  }

  /** Bytes received that do not yet form a complete box. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private nextBoxSize(): number | undefined {
    if (this.pendingBytes < 8) return undefined;
    const head = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [head];
    let size = head.readUInt32BE(0);
    if (size === 1) {
      if (head.length < 16) return undefined;
      size = Number(head.readBigUInt64BE(8));
    } else if (size === 0) {
      // "Extends to end of file": cannot be delimited in a live stream.
      throw new Error('box with size 0 in a live stream');
    }
    if (size < 8 || size > MAX_BOX_BYTES) throw new Error(`bad box size ${size}`);
    return size;
  }
}

/** The child boxes of the payload range [start, end). */
export function children(buf: Buffer, start: number, end: number): BoxRange[] {
  const out: BoxRange[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header || at + size > end) break;
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at + header, end: at + size });
    at += size;
  }
  return out;
}

/** The first child box of `parent` of `type`. */
export function child(buf: Buffer, parent: BoxRange, type: string): BoxRange | undefined {
  return children(buf, parent.start, parent.end).find((b) => b.type === type);
}

function path(buf: Buffer, parent: BoxRange, types: string[]): BoxRange | undefined {
  let at: BoxRange | undefined = parent;
  for (const t of types) {
    if (!at) return undefined;
    at = child(buf, at, t);
  }
  return at;
}

/** A top-level box as a range over its own bytes (its payload, after a 32- or 64-bit size header). */
export function whole(box: TopBox): BoxRange {
  const large = box.data.readUInt32BE(0) === 1;
  return { type: box.type, start: large ? 16 : 8, end: box.data.length };
}

/** What the packager needs to know of one track in `moov`. */
export interface TrackInfo {
  trackId: number;
  /** `vide`, `soun`, … */
  handler: string;
  timescale: number;
  /** RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`. */
  codec?: string;
  width?: number;
  height?: number;
  /** From `mvex/trex`, used when a fragment does not say. */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

function sampleEntryCodec(buf: Buffer, stsd: BoxRange): Pick<TrackInfo, 'codec' | 'width' | 'height'> {
  // stsd: full box header (4) + entry count (4), then sample entries.
  const entry = children(buf, stsd.start + 8, stsd.end)[0];
  if (!entry) return {};
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    // VisualSampleEntry: 6 reserved + 2 data ref + 16 predefined/reserved, then width and height.
    const width = buf.readUInt16BE(entry.start + 24);
    const height = buf.readUInt16BE(entry.start + 26);
    const avcC = children(buf, entry.start + 78, entry.end).find((b) => b.type === 'avcC');
    const codec = avcC
      ? `${entry.type}.${hex2(buf[avcC.start + 1]!)}${hex2(buf[avcC.start + 2]!)}${hex2(buf[avcC.start + 3]!)}`
      : entry.type;
    return { codec, width, height };
  }
  if (entry.type === 'mp4a') {
    const esds = children(buf, entry.start + 28, entry.end).find((b) => b.type === 'esds');
    return { codec: `mp4a.40.${esds ? audioObjectType(buf, esds) : 2}` };
  }
  return { codec: entry.type };
}

/** Reads the AAC audio object type from an `esds` box; 2 (AAC-LC) when it cannot be found. */
function audioObjectType(buf: Buffer, esds: BoxRange): number {
  let at = esds.start + 4;
  const readLen = () => {
    let len = 0;
    for (let i = 0; i < 4 && at < esds.end; i++) {
      const b = buf[at++]!;
      len = (len << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    return len;
  };
  while (at < esds.end) {
    const tag = buf[at++]!;
    const len = readLen();
    if (tag === 0x03)
      at += 3; // ES_ID and flags; assumes no optional fields, as ffmpeg writes
    else if (tag === 0x04)
      at += 13; // objectTypeIndication, stream type, buffer size, bitrates
    else if (tag === 0x05) return buf[at]! >> 3 || 2;
    else at += len;
  }
  return 2;
}

/** Parses the tracks of a `moov` box. */
export function parseMoov(moov: TopBox): TrackInfo[] {
  const buf = moov.data;
  const root = whole(moov);
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = child(buf, root, 'mvex');
  for (const b of mvex ? children(buf, mvex.start, mvex.end) : []) {
    if (b.type !== 'trex') continue;
    trex.set(buf.readUInt32BE(b.start + 4), {
      duration: buf.readUInt32BE(b.start + 12),
      flags: buf.readUInt32BE(b.start + 20),
    });
  }
  const tracks: TrackInfo[] = [];
  for (const trak of children(buf, root.start, root.end).filter((b) => b.type === 'trak')) {
    const tkhd = child(buf, trak, 'tkhd');
    const mdhd = path(buf, trak, ['mdia', 'mdhd']);
    const hdlr = path(buf, trak, ['mdia', 'hdlr']);
    const stsd = path(buf, trak, ['mdia', 'minf', 'stbl', 'stsd']);
    if (!tkhd || !mdhd || !hdlr) continue;
    const v1 = (b: BoxRange) => buf[b.start] === 1;
    const trackId = buf.readUInt32BE(tkhd.start + (v1(tkhd) ? 20 : 12));
    const defaults = trex.get(trackId);
    tracks.push({
      trackId,
      handler: buf.toString('latin1', hdlr.start + 8, hdlr.start + 12),
      timescale: buf.readUInt32BE(mdhd.start + (v1(mdhd) ? 20 : 12)),
      ...(stsd ? sampleEntryCodec(buf, stsd) : {}),
      defaultSampleDuration: defaults?.duration ?? 0,
      defaultSampleFlags: defaults?.flags ?? 0,
    });
  }
  return tracks;
}
