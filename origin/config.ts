import { existsSync } from 'node:fs';
import { type ConfigOf, type ConfigSpec, checkedLoader } from '../common/config.ts';
import { NAME_RE } from '../common/names.ts';

/** One rung of the ladder: `720p:1280x720:3000k:128k`, or `source:copy` (the input as it comes). */
export interface LadderRung {
  name: string;
  /** 0 for a pass-through rung: it has the input's size. */
  width: number;
  height: number;
  /** 0 for a pass-through rung: its bitrate is measured from its segments. */
  videoBitsPerSecond: number;
  audioBitsPerSecond: number;
  /** Pass-through: `-c:v copy -c:a copy`, keyframes where the encoder put them. */
  copy?: boolean;
}

/** Characters node-media-server accepts in an RTMP stream name; a key outside them could never publish. */
const RTMP_NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;

const RUNG_RE = /^([A-Za-z0-9_-]{1,64}):(\d{2,5})x(\d{2,5}):(\d{1,6})k:(\d{1,4})k$/;
const COPY_RE = /^([A-Za-z0-9_-]{1,64}):copy$/;

/** Parses a ladder string; throws an Error naming the first bad item. */
export function parseLadder(text: string): LadderRung[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error('must name at least one rendition');
  const rungs = items.map((item): LadderRung => {
    const copy = COPY_RE.exec(item);
    if (copy)
      return {
        name: copy[1]!,
        width: 0,
        height: 0,
        videoBitsPerSecond: 0,
        audioBitsPerSecond: 0,
        copy: true,
      };
    const m = RUNG_RE.exec(item);
    if (!m) throw new Error(`item '${item}' is not name:WIDTHxHEIGHT:VIDEOk:AUDIOk or name:copy`);
    const [width, height] = [Number(m[2]), Number(m[3])];
    // libx264 with yuv420p needs even dimensions.
    if (width % 2 || height % 2) throw new Error(`item '${item}' needs an even width and height`);
    if (Number(m[4]) < 16 || Number(m[5]) < 8)
      throw new Error(`item '${item}' has a bitrate that is too low`);
    return {
      name: m[1]!,
      width,
      height,
      videoBitsPerSecond: Number(m[4]) * 1000,
      audioBitsPerSecond: Number(m[5]) * 1000,
    };
  });
  const names = new Set(rungs.map((r) => r.name));
  if (names.size !== rungs.length) throw new Error('rendition names must be unique');
  if (rungs.filter((r) => r.copy).length > 1)
    throw new Error('at most one pass-through (name:copy) rendition');
  return rungs;
}

const ladderCheck = (v: unknown): string | undefined => {
  try {
    parseLadder(String(v));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};

/** Every origin option; each is a flag (`--rtmp-port`) and a variable (`RINGCAST_RTMP_PORT`). */
export const ORIGIN_CONFIG = {
  host: { type: 'string', default: '127.0.0.1', doc: 'address the HTTP and RTMP servers bind' },
  port: { type: 'int', default: 8090, min: 0, max: 65535, doc: 'HTTP port (0 = the OS picks)' },
  rtmpPort: { type: 'int', default: 1935, min: 0, max: 65535, doc: 'RTMP ingest port (0 = the OS picks)' },
  rtmpsPort: {
    type: 'int',
    default: 1936,
    min: 0,
    max: 65535,
    doc: 'RTMPS ingest port, open only when tlsCert is set (0 = the OS picks)',
  },
  tlsCert: {
    type: 'string',
    default: '',
    doc: "PEM certificate (chain) for RTMPS, re-read when renewed on disk; '' = no RTMPS",
  },
  tlsKey: { type: 'string', default: '', doc: 'PEM private key of tlsCert' },
  publicUrl: {
    type: 'url',
    default: '',
    doc: "base URL relays use to reach this origin; '' = the bound address",
  },
  coordinatorUrl: {
    type: 'urls',
    default: [] as string[],
    doc: "coordinator base URL, or several separated by commas to fail over between; '' = do not announce",
  },
  clusterSecret: { type: 'string', default: '', doc: 'shared secret for calls to the coordinator' },
  dataDir: { type: 'string', default: '', doc: "where segments are written; '' = a fresh temp dir" },
  source: {
    type: 'string',
    default: 'rtmp',
    choices: ['testsrc', 'rtmp'],
    doc: 'rtmp = wait for a publisher; testsrc = built-in test pattern with a tone',
  },
  streamId: {
    type: 'string',
    default: 'demo',
    doc: 'public name of the stream',
    check: (v: unknown) => (NAME_RE.test(String(v)) ? undefined : `must match ${NAME_RE.source}`),
  },
  streamKey: {
    type: 'string',
    default: '',
    doc: 'secret RTMP stream key (required when source=rtmp)',
    check: (v: unknown) =>
      v === '' || RTMP_NAME_RE.test(String(v)) ? undefined : `must match ${RTMP_NAME_RE.source}`,
  },
  ladder: {
    type: 'string',
    default: '720p:1280x720:3000k:128k,480p:854x480:1400k:128k,360p:640x360:800k:96k',
    doc: 'renditions as name:WIDTHxHEIGHT:VIDEOk:AUDIOk or name:copy (pass-through), comma separated',
    check: ladderCheck,
  },
  fps: { type: 'int', default: 30, min: 1, max: 120, doc: 'output frame rate' },
  segmentSeconds: { type: 'int', default: 2, min: 1, max: 10, doc: 'segment duration (keyframe interval)' },
  windowSegments: { type: 'int', default: 6, min: 2, max: 100, doc: 'segments in each media playlist' },
  retainSegments: {
    type: 'int',
    default: 12,
    min: 2,
    max: 10000,
    doc: 'segments kept on disk per rendition',
  },
  endGraceMs: {
    type: 'int',
    default: 10000,
    min: 0,
    doc: 'time a publisher may be gone before the playlist gets #EXT-X-ENDLIST',
  },
  testsrcSize: {
    type: 'string',
    default: '1280x720',
    doc: 'test pattern size (source=testsrc)',
    check: (v: unknown) => (/^\d{2,5}x\d{2,5}$/.test(String(v)) ? undefined : 'must be WIDTHxHEIGHT'),
  },
  ffmpegPath: { type: 'string', default: '/usr/bin/ffmpeg', doc: 'ffmpeg binary' },
  lowLatency: {
    type: 'bool',
    default: false,
    doc: 'Low-Latency HLS: parts, preload hints and blocking playlist reloads',
  },
  segmentFormat: {
    type: 'string',
    default: 'fmp4',
    choices: ['fmp4', 'ts'],
    doc: 'media segments: fmp4 (CMAF), or ts (each segment also remuxed to MPEG-TS, listed instead)',
  },
  keyRecheckMs: {
    type: 'int',
    default: 10000,
    min: 100,
    doc: "period of re-checking live publishers' keys with the coordinator (revocation)",
  },
  announceIntervalMs: {
    type: 'int',
    default: 5000,
    min: 100,
    doc: 'period of the stream re-announcement to the coordinator',
  },
} satisfies ConfigSpec;

/** The loaded, frozen origin configuration. */
export type OriginConfig = ConfigOf<typeof ORIGIN_CONFIG>;

/** Checks that span keys; returns one message per problem. */
export function crossCheck(config: OriginConfig): string[] {
  const problems: string[] = [];
  if (config.source === 'rtmp' && !config.streamKey && config.coordinatorUrl.length === 0) {
    problems.push(
      "'streamKey' is required when source is rtmp and no coordinatorUrl checks keys (--stream-key)",
    );
  }
  if (!existsSync(config.ffmpegPath)) {
    problems.push(`'ffmpegPath' ${config.ffmpegPath} does not exist (apt-get install -y ffmpeg)`);
  }
  if (config.segmentFormat === 'ts' && config.lowLatency) {
    problems.push("'lowLatency' needs segmentFormat fmp4 (LL-HLS parts are CMAF chunks)");
  }
  problems.push(...tlsProblems(config));
  if (config.retainSegments < config.windowSegments) {
    problems.push(`'retainSegments' must be at least windowSegments (${config.windowSegments})`);
  }
  return problems;
}

/** RTMPS needs both files, and its own port. */
function tlsProblems(config: OriginConfig): string[] {
  if (!config.tlsCert && !config.tlsKey) return [];
  if (!config.tlsCert || !config.tlsKey)
    return ["'tlsCert' and 'tlsKey' go together (--tls-cert, --tls-key)"];
  const problems = [config.tlsCert, config.tlsKey]
    .filter((file) => !existsSync(file))
    .map((file) => `'${file === config.tlsCert ? 'tlsCert' : 'tlsKey'}' ${file} does not exist`);
  if (config.rtmpsPort !== 0 && config.rtmpsPort === config.rtmpPort)
    problems.push(`'rtmpsPort' must differ from rtmpPort (${config.rtmpPort})`);
  return problems;
}

/** Loads the origin config (defaults, env, flags, overrides) and runs the cross-key checks. */
export const loadOriginConfig = checkedLoader(ORIGIN_CONFIG, 'origin', crossCheck);
