import { FuzzRandom, mutatedCommand, randomAmf, validConnect } from './rtmp-fuzz-cases.ts';

/** One RTMP message before chunking. */
export interface RtmpMessage {
  type: number;
  payload: Buffer;
  /** What the header says (defaults to the payload's length); a lie tests the parser's buffers. */
  declaredLength?: number;
  streamId?: number;
  timestamp?: number;
  csid?: number;
  /** fmt of the first chunk (0 unless mutated). */
  fmt?: number;
}

/** C0 + C1 + C2 of the simple handshake (the server echoes; NMS does not check C2). */
export function handshake(r: FuzzRandom): Buffer {
  const c1 = r.bytes(1536);
  c1.fill(0, 0, 8); // time and zero: the simple (not digest) form
  return Buffer.concat([Buffer.from([3]), c1, r.bytes(1536)]);
}

/** The basic header for `csid` in the 1-, 2- or 3-byte form. */
function basicHeader(fmt: number, csid: number): Buffer {
  if (csid >= 320) return Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, ((csid - 64) >> 8) & 0xff]);
  if (csid >= 64) return Buffer.from([fmt << 6, csid - 64]);
  return Buffer.from([(fmt << 6) | csid]);
}

/** `m` as chunks of `chunkSize` (the size the server reads with), fmt 3 after the first. */
export function chunk(m: RtmpMessage, chunkSize = 128): Buffer {
  const fmt = m.fmt ?? 0;
  const csid = m.csid ?? 3;
  const ts = m.timestamp ?? 0;
  const extended = ts >= 0xffffff;
  const head = Buffer.alloc(11);
  head.writeUIntBE(extended ? 0xffffff : ts, 0, 3);
  head.writeUIntBE(Math.min(m.declaredLength ?? m.payload.length, 0xffffff), 3, 3);
  head[6] = m.type & 0xff;
  head.writeUInt32LE((m.streamId ?? 0) >>> 0, 7);
  const ext = extended
    ? Buffer.from([ts >>> 24, ts >>> 16, ts >>> 8, ts].map((b) => b & 0xff))
    : Buffer.alloc(0);
  const parts: Buffer[] = [basicHeader(fmt, csid), head.subarray(0, [11, 7, 3, 0][fmt]), ext];
  for (let at = 0; at < m.payload.length; at += chunkSize) {
    if (at > 0) parts.push(basicHeader(3, csid), ext);
    parts.push(m.payload.subarray(at, at + chunkSize));
  }
  return Buffer.concat(parts);
}

const CONTROL_TYPES = [1, 2, 3, 4, 5, 6];
const MEDIA_TYPES = [8, 9, 15, 16, 17, 18, 19, 22];

/** A control or user-control message with an empty, short, exact or long payload and extreme values. */
function controlMessage(r: FuzzRandom): RtmpMessage {
  const type = r.pick(CONTROL_TYPES);
  const value = Buffer.alloc(6);
  value.writeUInt32BE(r.extreme32() >>> 0);
  value[4] = r.int(256);
  const length = r.pick([0, 1, 2, 3, 4, 5, 6, 64, 300]);
  const payload = length <= 6 ? value.subarray(0, length) : Buffer.concat([value, r.bytes(length - 6)]);
  return { type, payload, csid: 2 };
}

/** A command message (AMF0, or AMF3-wrapped with the leading byte). */
function commandMessage(r: FuzzRandom): RtmpMessage {
  const body = r.chance(0.85) ? mutatedCommand(r) : randomAmf(r);
  return r.chance(0.1)
    ? { type: 17, payload: Buffer.concat([Buffer.from([0]), body]) }
    : { type: 20, payload: body, streamId: r.chance(0.8) ? 0 : r.extreme32() };
}

/** Audio, video, data, shared-object and aggregate messages with random or AMF payloads. */
function mediaMessage(r: FuzzRandom): RtmpMessage {
  const type = r.pick(MEDIA_TYPES);
  const payload = type === 18 || type === 15 ? randomAmf(r) : r.bytes(r.pick([0, 1, 2, 5, 11, 200]));
  return { type, payload, csid: r.pick([4, 5, 6]), streamId: 1 };
}

/** Chunk headers with extreme values: every fmt, every csid form, lengths up to 2^24-1, extended timestamps. */
function headerMessage(r: FuzzRandom): RtmpMessage {
  const declared = r.pick([0, 1, 127, 128, 129, 65_536, 65_537, 1 << 20, 0xffffff, r.int(1 << 24)]);
  return {
    type: r.chance(0.8) ? r.pick([...CONTROL_TYPES, ...MEDIA_TYPES, 20]) : r.int(256),
    payload: r.bytes(Math.min(declared, r.int(400))),
    declaredLength: declared,
    fmt: r.int(4),
    csid: r.pick([2, 3, 63, 64, 319, 320, 65_599, 2 + r.int(65_598)]),
    timestamp: r.pick([0, 0xfffffe, 0xffffff, 0xffffffff, r.int(2 ** 32)]),
    streamId: r.extreme32(),
  };
}

/** The kinds of case, named in failure reports. */
export type FuzzCaseKind = 'command' | 'control' | 'media' | 'header' | 'raw';

/** One fuzz case: the bytes of one connection (handshake included) and what it mainly exercises. */
export interface FuzzCase {
  index: number;
  kind: FuzzCaseKind;
  bytes: Buffer;
}

/**
 * Case `index` of the run seeded `seed`: a valid handshake, often a valid connect (to reach the later
 * states), then one to four generated messages of one kind. Deterministic per (seed, index).
 */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const r = new FuzzRandom((seed * 0x9e3779b1) ^ index);
  const kind = r.pick<FuzzCaseKind>(['command', 'command', 'control', 'media', 'header', 'raw']);
  const parts: Buffer[] = [handshake(r)];
  if (r.chance(0.6)) parts.push(chunk({ type: 20, payload: validConnect() }));
  const count = 1 + r.int(4);
  for (let i = 0; i < count; i++) {
    if (kind === 'raw') parts.push(r.bytes(r.int(64)));
    else {
      const make = {
        command: commandMessage,
        control: controlMessage,
        media: mediaMessage,
        header: headerMessage,
      }[kind];
      parts.push(chunk(make(r)));
    }
  }
  return { index, kind, bytes: Buffer.concat(parts) };
}
