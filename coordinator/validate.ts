import { RingcastError } from '../common/errors.ts';
import { FILE_RE, NAME_RE } from '../common/names.ts';
import { TOKEN_TTL_SECONDS } from '../common/playback-gate.ts';
import type {
  HeartbeatRequest,
  RegisterRelayRequest,
  RelayLoad,
  RenditionInfo,
  SegmentAnnouncement,
  StreamInfo,
  StreamState,
} from '../common/types.ts';

/** Body checks: each failure is a 400 RC_BAD_BODY that names the bad field, never a crash. */
type Obj = Record<string, unknown>;

const STREAM_STATES: readonly StreamState[] = ['idle', 'live', 'ended', 'error'];
const SHA256_RE = /^[0-9a-f]{64}$/;
// Codecs go inside a quoted attribute of the master playlist: no quotes, no line breaks.
const CODECS_RE = /^[A-Za-z0-9.,+\- ]{1,200}$/;

function bad(field: string, why: string): never {
  throw new RingcastError('RC_BAD_BODY', `'${field}' ${why}`);
}

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'must be an object');
  return v as Obj;
}

function num(o: Obj, key: string, opts: { field?: string; int?: boolean; min?: number; optional?: boolean }) {
  const field = opts.field ?? key;
  const v = o[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, 'must be a number');
  if (opts.int && !Number.isInteger(v)) bad(field, 'must be a whole number');
  if (opts.min !== undefined && v < opts.min) bad(field, `must be at least ${opts.min}`);
  return v;
}

function str(o: Obj, key: string, re: RegExp, field = key): string {
  const v = o[key];
  if (typeof v !== 'string' || !re.test(v)) bad(field, `must match ${re.source}`);
  return v;
}

function httpUrl(o: Obj, key: string): string {
  const v = o[key];
  try {
    if (typeof v !== 'string' || /["\s]/.test(v)) throw new Error('not a string');
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return v.replace(/\/+$/, '');
  } catch {
    bad(key, 'must be an http(s) URL');
  }
}

export function parseRegister(body: unknown): Required<RegisterRelayRequest> {
  const o = obj(body, 'body');
  const capacity = num(o, 'capacity', { min: 0.01, optional: true }) ?? 1;
  if (capacity > 1000) bad('capacity', 'must be at most 1000');
  return { id: str(o, 'id', NAME_RE), url: httpUrl(o, 'url'), capacity };
}

export function parseHeartbeat(body: unknown): HeartbeatRequest {
  const load = obj(obj(body, 'body').load, 'load');
  const field = (k: string) => num(load, k, { field: `load.${k}`, min: 0, optional: true }) ?? 0;
  const out: RelayLoad = {
    viewers: field('viewers'),
    cacheBytes: field('cacheBytes'),
    bytesServedTotal: field('bytesServedTotal'),
  };
  return { load: out };
}

function parseRendition(v: unknown, i: number): RenditionInfo {
  const f = (k: string) => `renditions[${i}].${k}`;
  const o = obj(v, `renditions[${i}]`);
  const r: RenditionInfo = {
    name: str(o, 'name', NAME_RE, f('name')),
    // Bits per second may arrive as a float (measured); the playlist rounds it.
    bandwidth: num(o, 'bandwidth', { field: f('bandwidth'), min: 1 })!,
  };
  const averageBandwidth = num(o, 'averageBandwidth', {
    field: f('averageBandwidth'),
    min: 1,
    optional: true,
  });
  const width = num(o, 'width', { field: f('width'), int: true, min: 1, optional: true });
  const height = num(o, 'height', { field: f('height'), int: true, min: 1, optional: true });
  const frameRate = num(o, 'frameRate', { field: f('frameRate'), min: 0.001, optional: true });
  if (averageBandwidth !== undefined) r.averageBandwidth = averageBandwidth;
  if (width !== undefined) r.width = width;
  if (height !== undefined) r.height = height;
  if (frameRate !== undefined) r.frameRate = frameRate;
  if (o.codecs !== undefined) r.codecs = str(o, 'codecs', CODECS_RE, f('codecs'));
  return r;
}

/** `PUT /api/v1/streams/:streamId` body; an `id` in the body must match the path. */
export function parseStream(body: unknown, streamId: string): StreamInfo {
  const o = obj(body, 'body');
  if (o.id !== undefined && o.id !== streamId) bad('id', 'must match the stream id in the path');
  if (!STREAM_STATES.includes(o.state as StreamState))
    bad('state', `must be one of ${STREAM_STATES.join(', ')}`);
  if (!Array.isArray(o.renditions) || o.renditions.length > 32)
    bad('renditions', 'must be an array of at most 32');
  const renditions = o.renditions.map(parseRendition);
  if (new Set(renditions.map((r) => r.name)).size !== renditions.length)
    bad('renditions', 'names must be unique');
  const s: StreamInfo = {
    id: streamId,
    state: o.state as StreamState,
    originUrl: httpUrl(o, 'originUrl'),
    renditions,
  };
  const targetDuration = num(o, 'targetDuration', { min: 0.1, optional: true });
  if (targetDuration !== undefined) s.targetDuration = targetDuration;
  if (o.lowLatency !== undefined) {
    if (typeof o.lowLatency !== 'boolean') bad('lowLatency', 'must be true or false');
    s.lowLatency = o.lowLatency;
  }
  if (o.reason !== undefined) {
    if (typeof o.reason !== 'string' || o.reason.length > 500)
      bad('reason', 'must be a string of at most 500');
    s.reason = o.reason;
  }
  return s;
}

/** `POST /api/v1/streams/:streamId/segments` body; a `streamId` in the body must match the path. */
export function parseSegment(body: unknown, streamId: string): SegmentAnnouncement {
  const o = obj(body, 'body');
  if (o.streamId !== undefined && o.streamId !== streamId)
    bad('streamId', 'must match the stream id in the path');
  const programDateTime = o.programDateTime;
  if (typeof programDateTime !== 'string' || Number.isNaN(Date.parse(programDateTime))) {
    bad('programDateTime', 'must be an ISO 8601 date');
  }
  const file = str(o, 'file', FILE_RE);
  if (file.startsWith('.')) bad('file', 'must not start with a dot');
  return {
    streamId,
    rendition: str(o, 'rendition', NAME_RE),
    msn: num(o, 'msn', { int: true, min: 0 })!,
    file,
    size: num(o, 'size', { int: true, min: 0 })!,
    sha256: str(o, 'sha256', SHA256_RE),
    duration: num(o, 'duration', { min: 0.001 })!,
    programDateTime,
  };
}

/** `POST /api/v1/streams` body: `{ id }`. */
export function parseStreamRegistration(body: unknown): { id: string; private: boolean } {
  const o = obj(body, 'body');
  if (o.private !== undefined && typeof o.private !== 'boolean') bad('private', 'must be true or false');
  return { id: str(o, 'id', NAME_RE), private: o.private === true };
}

/** `POST /api/v1/tokens` body: `{ stream, ttlSeconds, network? }`. */
export function parseTokenRequest(body: unknown): { stream: string; ttlSeconds: number; network?: string } {
  const o = obj(body, 'body');
  const stream = str(o, 'stream', NAME_RE);
  const ttlSeconds = num(o, 'ttlSeconds', { int: true, min: TOKEN_TTL_SECONDS.min }) as number;
  if (ttlSeconds > TOKEN_TTL_SECONDS.max) bad('ttlSeconds', `must be at most ${TOKEN_TTL_SECONDS.max}`);
  if (o.network === undefined) return { stream, ttlSeconds };
  if (typeof o.network !== 'string' || !NETWORK_RE.test(o.network))
    bad('network', 'must be a network such as 203.0.113.0/24 or 2001:db8::/48');
  return { stream, ttlSeconds, network: o.network };
}

// Shape only; mintToken checks the address and the prefix length.
const NETWORK_RE = /^[0-9A-Fa-f.:]{2,45}\/\d{1,3}$/;

/** `POST /api/v1/publish-auth` body: `{ key }`; any string up to 256 characters (a wrong one is a 403). */
export function parsePublishAuth(body: unknown): { key: string } {
  const key = obj(body, 'body').key;
  if (typeof key !== 'string' || key.length === 0 || key.length > 256)
    bad('key', 'must be a string of 1 to 256 characters');
  return { key };
}
