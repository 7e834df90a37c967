import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { RingcastError } from '../common/errors.ts';
import {
  CORS_HEADERS,
  IMMUTABLE,
  liveContentType,
  PLAYLIST_TYPE,
  PREFLIGHT_HEADERS,
  playlistCacheControl,
} from '../common/hls-http.ts';
import { sendError, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { sendMetrics } from '../common/metrics.ts';
import { isPartFile, type LivePath, parseLivePath } from '../common/names.ts';
import type { LiveStream } from './live-stream.ts';
import type { OriginMetrics } from './origin-metrics.ts';

export interface OriginHttpDeps {
  streams: ReadonlyMap<string, LiveStream>;
  /** `<dataDir>`; files live at `<dataDir>/<streamId>/<rendition>/<file>`. */
  dataDir: string;
  metrics: OriginMetrics;
  log: Logger;
  /** True once close() began: new requests get 503. */
  closing: () => boolean;
}

/** The origin's public HTTP handler (plain node:http): playlists, init and segments, health, metrics. */
export function createOriginHandler(
  deps: OriginHttpDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void handle(deps, req, res).catch((err) => sendError(res, err, deps.log));
  };
}

async function handle(deps: OriginHttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
  const [pathname = '/', query = ''] = (req.url ?? '/').split('?');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, PREFLIGHT_HEADERS).end();
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new RingcastError('RC_METHOD_NOT_ALLOWED');
  if (deps.closing()) throw new RingcastError('RC_SHUTTING_DOWN');
  if (pathname === '/healthz') {
    const streams = [...deps.streams.values()].map((s) => ({ id: s.id, state: s.state }));
    return sendJson(res, 200, { ok: true, part: 'origin', streams });
  }
  if (pathname === '/metrics') return sendMetrics(res, deps.metrics.registry);
  if (!pathname.startsWith('/live/')) throw new RingcastError('RC_NOT_FOUND');
  // Validated before any file is touched: a bad path is a 400.
  const path = parseLivePath(pathname);
  const stream = deps.streams.get(path.streamId);
  if (!stream) throw new RingcastError('RC_STREAM_NOT_FOUND');
  const served = (bytes: number) => {
    if (req.method === 'GET') deps.metrics.bytesServed.inc({ stream: path.streamId }, bytes);
  };
  if (path.kind === 'master') return sendPlaylist(req, res, stream.masterPlaylist(), served);
  if (!path.rendition || !stream.hasRendition(path.rendition)) throw new RingcastError('RC_NOT_FOUND');
  if (path.kind === 'playlist') {
    if (path.file !== 'index.m3u8') throw new RingcastError('RC_NOT_FOUND');
    let skip = false;
    if (stream.lowLatency && query) {
      const q = new URLSearchParams(query);
      await blockForPlaylist(stream, path.rendition, q);
      const skipText = q.get('_HLS_skip');
      if (skipText !== null && skipText !== 'YES' && skipText !== 'v2')
        throw new RingcastError('RC_BAD_REQUEST', '_HLS_skip must be YES or v2');
      skip = skipText !== null;
    }
    return sendPlaylist(req, res, stream.mediaPlaylist(path.rendition, skip), served);
  }
  if (isPartFile(path.file)) return sendPart(req, res, stream, path, served);
  return sendFile(deps, req, res, stream, path, served);
}

/** How long a blocking request is held: three target durations, as the LL-HLS spec suggests. */
const holdMs = (stream: LiveStream) => stream.targetDuration() * 3000;

/** LL-HLS blocking reload: hold until the playlist has `_HLS_msn` (and `_HLS_part`). */
async function blockForPlaylist(stream: LiveStream, rendition: string, q: URLSearchParams): Promise<void> {
  const msnText = q.get('_HLS_msn');
  const partText = q.get('_HLS_part');
  if (msnText === null) {
    if (partText !== null) throw new RingcastError('RC_BAD_REQUEST', '_HLS_part needs _HLS_msn');
    return;
  }
  if (!/^\d{1,10}$/.test(msnText) || (partText !== null && !/^\d{1,6}$/.test(partText))) {
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn and _HLS_part must be whole numbers');
  }
  const msn = Number(msnText);
  const part = partText === null ? undefined : Number(partText);
  // RFC 8216bis 6.2.5.2: more than two segments past the last one in the playlist, or a part more than
  // the Advance Part Limit (3 / PART-TARGET parts) past its last part, is answered at once with a 400.
  const lastMsn = stream.lastMsn(rendition);
  if (msn > lastMsn + 2) throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn is too far ahead');
  if (part !== undefined && partsAhead(stream, rendition, msn, part) > advancePartLimit(stream.partTarget))
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_part is too far ahead');
  // A wait past three target durations is a 503: the stream is not advancing.
  if (!(await stream.waitUntil(() => stream.hasReached(rendition, msn, part), holdMs(stream))))
    throw new RingcastError('RC_BLOCKING_TIMEOUT');
}

/** The Advance Part Limit of RFC 8216bis 6.2.5.2: 3 / PART-TARGET parts when the target is under 1 s. */
export const advancePartLimit = (partTarget: number) => (partTarget < 1 ? Math.floor(3 / partTarget) : 3);

/** How many parts `msn.part` lies past the playlist's last part (a segment counts target / PART-TARGET parts). */
function partsAhead(stream: LiveStream, rendition: string, msn: number, part: number): number {
  const edge = stream.liveEdge(rendition);
  if (!edge) return 0;
  const perSegment = Math.round(stream.targetDuration() / stream.partTarget);
  return (msn - edge.msn) * perSegment + part - edge.part;
}

/** An LL-HLS part from memory; the next one (the preload hint) is held until it is complete. */
async function sendPart(
  req: IncomingMessage,
  res: ServerResponse,
  stream: LiveStream,
  path: LivePath,
  served: (bytes: number) => void,
) {
  const [msn, index] = path.file.split('.').map(Number) as [number, number];
  const rendition = path.rendition!;
  let part = stream.part(rendition, msn, index);
  if (!part && stream.isNextPart(rendition, msn, index)) {
    // Held until it is complete, or until its segment completed without it (a keyframe came first).
    await stream.waitUntil(
      () => stream.part(rendition, msn, index) !== undefined || stream.lastMsn(rendition) >= msn,
      holdMs(stream),
    );
    part = stream.part(rendition, msn, index);
  }
  if (!part) throw new RingcastError('RC_NOT_FOUND');
  res.writeHead(200, {
    'content-type': liveContentType(path.file),
    'content-length': part.data.length,
    'cache-control': IMMUTABLE,
  });
  res.end(req.method === 'HEAD' ? undefined : part.data);
  served(part.data.length);
}

function sendPlaylist(
  req: IncomingMessage,
  res: ServerResponse,
  text: string | undefined,
  served: (bytes: number) => void,
): void {
  if (text === undefined) throw new RingcastError('RC_NOT_FOUND', 'playlist has no segments yet');
  res.writeHead(200, {
    'content-type': PLAYLIST_TYPE,
    'content-length': Buffer.byteLength(text),
    'cache-control': playlistCacheControl(1000),
  });
  res.end(req.method === 'HEAD' ? undefined : text);
  served(Buffer.byteLength(text));
}

async function sendFile(
  deps: OriginHttpDeps,
  req: IncomingMessage,
  res: ServerResponse,
  stream: LiveStream,
  path: LivePath,
  served: (bytes: number) => void,
) {
  // A segment is visible once complete; until its file is written it is served from memory.
  let body = stream.memoryFile(path.rendition!, path.file);
  try {
    body ??= await readFile(join(deps.dataDir, path.streamId, path.rendition!, path.file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RingcastError('RC_NOT_FOUND');
    throw err;
  }
  if (path.kind === 'segment' && req.method === 'GET') {
    deps.metrics.segmentRequests.inc({ stream: path.streamId, rendition: path.rendition });
  }
  res.writeHead(200, {
    'content-type': liveContentType(path.file),
    'content-length': body.length,
    'cache-control': IMMUTABLE,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  served(body.length);
}
