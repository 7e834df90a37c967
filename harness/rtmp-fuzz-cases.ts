// A structured RTMP fuzzer: real handshakes followed by mutated commands, control messages and chunk
// headers, from a seeded PRNG so a failing case can be replayed. Shared by the hostile RTMP tests
// (10,000+ cases per CI run) and bench/rtmp-fuzz.ts (the long run).

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export class FuzzRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** 0, 1, a boundary or a random 32-bit value. */
  extreme32(): number {
    return this.pick([
      0,
      1,
      0x7f,
      0xff,
      0xffff,
      0xfffffe,
      0xffffff,
      0x7fffffff,
      0xffffffff,
      this.int(2 ** 32),
    ]);
  }
}

/** One AMF0 value as bytes. */
type Amf = Buffer;
const u8 = (n: number) => Buffer.from([n & 0xff]);
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

export const amf = {
  number(n: number): Amf {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(n, 1);
    return b;
  },
  bool: (v: boolean): Amf => Buffer.from([0x01, v ? 1 : 0]),
  /** A short string; `declared` may lie about the length. */
  string(s: string, declared?: number): Amf {
    const body = Buffer.from(s, 'utf8');
    return Buffer.concat([u8(0x02), u16(declared ?? body.length), body]);
  },
  longString(s: string, declared?: number): Amf {
    const body = Buffer.from(s, 'utf8');
    return Buffer.concat([u8(0x0c), u32(declared ?? body.length), body]);
  },
  null: (): Amf => u8(0x05),
  undefined: (): Amf => u8(0x06),
  /** An object from [key, value] pairs, ended by 00 00 09 unless `unterminated`. */
  object(props: [string, Amf][], unterminated = false): Amf {
    const parts = props.flatMap(([k, v]) => [u16(Buffer.byteLength(k)), Buffer.from(k), v]);
    return Buffer.concat([u8(0x03), ...parts, unterminated ? Buffer.alloc(0) : Buffer.from([0, 0, 9])]);
  },
  ecmaArray(props: [string, Amf][], count = props.length): Amf {
    const parts = props.flatMap(([k, v]) => [u16(Buffer.byteLength(k)), Buffer.from(k), v]);
    return Buffer.concat([u8(0x08), u32(count), ...parts, Buffer.from([0, 0, 9])]);
  },
  strictArray(items: Amf[], count = items.length): Amf {
    return Buffer.concat([u8(0x0a), u32(count), ...items]);
  },
  date(ms: number): Amf {
    const b = amf.number(ms);
    b[0] = 0x0b;
    return Buffer.concat([b, u16(0)]);
  },
};

const WORDS = ['live', 'app', 'demo', '', 'a?b=c', '../x', 'rtmp://127.0.0.1/live', '%00', 'ключ', '\u0000'];

/** A random AMF0 value: any type, sometimes nested deeply, huge or truncated. */
export function randomAmf(r: FuzzRandom, depth = 0): Amf {
  const kind = r.int(depth > 3 ? 9 : 14);
  switch (kind) {
    case 0:
      return amf.number(
        r.pick([0, -0, 1, -1, 1e308, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, r.next()]),
      );
    case 1:
      return amf.bool(r.chance(0.5));
    case 2:
      return amf.string(r.pick(WORDS));
    case 3:
      return amf.string(r.pick(WORDS), r.extreme32() & 0xffff); // a length that lies
    case 4:
      return amf.longString('x'.repeat(r.int(300)), r.chance(0.5) ? undefined : r.extreme32());
    case 5:
      return amf.null();
    case 6:
      return amf.undefined();
    case 7:
      return Buffer.from([
        r.pick([0x07, 0x0b, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0xff, r.int(256)]),
        ...r.bytes(r.int(12)),
      ]);
    case 8:
      return amf.date(r.next() * 1e13);
    case 9:
    case 10:
      return amf.object(randomProps(r, depth), r.chance(0.1));
    case 11:
      return amf.ecmaArray(randomProps(r, depth), r.chance(0.7) ? undefined : r.extreme32());
    case 12:
      return amf.strictArray(
        Array.from({ length: r.int(4) }, () => randomAmf(r, depth + 1)),
        r.chance(0.7) ? undefined : r.extreme32(),
      );
    default:
      return deeplyNested(r);
  }
}

function randomProps(r: FuzzRandom, depth: number): [string, Amf][] {
  return Array.from({ length: r.int(4) }, () => [r.pick(WORDS), randomAmf(r, depth + 1)]);
}

/** Objects or strict arrays nested hundreds to thousands deep (a recursive decoder's stack). */
function deeplyNested(r: FuzzRandom): Amf {
  const levels = r.pick([50, 500, 5000]);
  const open = r.chance(0.5) ? Buffer.from([0x03, 0, 1, 0x61]) : Buffer.from([0x0a, 0, 0, 0, 1]);
  const close = open[0] === 0x03 ? Buffer.from([0, 0, 9]) : Buffer.alloc(0);
  return Buffer.concat([
    ...Array.from({ length: levels }, () => open),
    amf.null(),
    ...Array.from({ length: levels }, () => close),
  ]);
}

/** Commands a publisher sends, with the arguments each takes. */
const COMMANDS = ['connect', 'createStream', 'publish', 'play', 'deleteStream', 'FCPublish', 'releaseStream'];

/** A valid argument list for `cmd` (what ffmpeg sends), before mutation. */
function validArgs(cmd: string, r: FuzzRandom): Amf[] {
  const name = amf.string(r.chance(0.5) ? 'fuzz-key' : r.pick(WORDS));
  switch (cmd) {
    case 'connect':
      return [
        amf.number(1),
        amf.object([
          ['app', amf.string('live')],
          ['type', amf.string('nonprivate')],
          ['flashVer', amf.string('FMLE/3.0 (compatible; FMSc/1.0)')],
          ['tcUrl', amf.string('rtmp://127.0.0.1:1935/live')],
        ]),
      ];
    case 'publish':
      return [amf.number(5), amf.null(), name, amf.string('live')];
    case 'play':
      return [amf.number(4), amf.null(), name, amf.number(-2000)];
    case 'deleteStream':
      return [amf.number(6), amf.null(), amf.number(1)];
    default:
      return [amf.number(r.int(10)), amf.null(), name];
  }
}

/** `cmd` with its arguments mutated: dropped, null, undefined, mistyped, huge, nested or truncated. */
export function mutatedCommand(r: FuzzRandom, cmd = r.pick(COMMANDS)): Buffer {
  const args = validArgs(cmd, r);
  const mutations = 1 + r.int(3);
  for (let i = 0; i < mutations; i++) {
    const at = r.int(args.length + 1);
    switch (r.int(6)) {
      case 0:
        args.length = Math.min(args.length, at); // missing fields
        break;
      case 1:
        args[at] = amf.null();
        break;
      case 2:
        args[at] = amf.undefined();
        break;
      default:
        args[at] = randomAmf(r);
    }
  }
  const body = Buffer.concat([amf.string(cmd), ...args.map((a) => a ?? amf.null())]);
  return r.chance(0.15) ? body.subarray(0, r.int(body.length)) : body;
}

/** A valid connect command (so later messages reach NMS's deeper states). */
export function validConnect(): Buffer {
  return Buffer.concat([amf.string('connect'), ...validArgs('connect', new FuzzRandom(1))]);
}
