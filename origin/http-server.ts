import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { RingcastError } from '../common/errors.ts';
import { sendError, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { sendMetrics } from '../common/metrics.ts';
import { isPartFile, type LivePath, parseLivePath } from '../common/names.ts';
import type { LiveStream } from './live-stream.ts';
import type { OriginMetrics } from './origin-metrics.ts';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'range, content-type',
};
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const IMMUTABLE = 'public, max-age=31536000, immutable';

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
  for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
  const [pathname = '/', query = ''] = (req.url ?? '/').split('?');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'access-control-max-age': '600' }).end();
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
  if (path.kind === 'master') return sendPlaylist(req, res, stream.masterPlaylist());
  if (!path.rendition || !stream.hasRendition(path.rendition)) throw new RingcastError('RC_NOT_FOUND');
  if (path.kind === 'playlist') {
    if (path.file !== 'index.m3u8') throw new RingcastError('RC_NOT_FOUND');
    if (stream.lowLatency) await blockForPlaylist(stream, path.rendition, new URLSearchParams(query));
    return sendPlaylist(req, res, stream.mediaPlaylist(path.rendition));
  }
  if (isPartFile(path.file)) return sendPart(req, res, stream, path);
  return sendFile(deps, req, res, stream, path);
}

/** How long a blocking request is held: three target durations, as the LL-HLS spec suggests. */
const holdMs = (stream: LiveStream) => stream.targetDuration() * 3000;

/** LL-HLS blocking reload: hold until the playlist has `_HLS_msn` (and `_HLS_part`). */
async function blockForPlaylist(stream: LiveStream, rendition: string, q: URLSearchParams): Promise<void> {
  const msnText = q.get('_HLS_msn');
  if (msnText === null) return;
  const partText = q.get('_HLS_part');
  if (!/^\d{1,10}$/.test(msnText) || (partText !== null && !/^\d{1,6}$/.test(partText))) {
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn and _HLS_part must be whole numbers');
  }
  const msn = Number(msnText);
  const part = partText === null ? undefined : Number(partText);
  // The spec: a request more than two segments ahead of the playlist is a client error.
  if (msn > stream.lastMsn(rendition) + 2)
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn is too far ahead');
  await stream.waitUntil(() => stream.hasReached(rendition, msn, part), holdMs(stream));
}

/** An LL-HLS part from memory; the next one (the preload hint) is held until it is complete. */
async function sendPart(req: IncomingMessage, res: ServerResponse, stream: LiveStream, path: LivePath) {
  const [msn, index] = path.file.split('.').map(Number) as [number, number];
  const rendition = path.rendition!;
  let part = stream.part(rendition, msn, index);
  if (!part && stream.isNextPart(rendition, msn, index)) {
    await stream.waitUntil(() => stream.part(rendition, msn, index) !== undefined, holdMs(stream));
    part = stream.part(rendition, msn, index);
  }
  if (!part) throw new RingcastError('RC_NOT_FOUND');
  res.writeHead(200, {
    'content-type': 'video/iso.segment',
    'content-length': part.data.length,
    'cache-control': IMMUTABLE,
  });
  res.end(req.method === 'HEAD' ? undefined : part.data);
}

function sendPlaylist(req: IncomingMessage, res: ServerResponse, text: string | undefined): void {
  if (text === undefined) throw new RingcastError('RC_NOT_FOUND', 'playlist has no segments yet');
  res.writeHead(200, {
    'content-type': PLAYLIST_TYPE,
    'content-length': Buffer.byteLength(text),
    // Shorter than half a target duration, so a cache never hides a whole segment.
    'cache-control': 'max-age=1',
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

async function sendFile(
  deps: OriginHttpDeps,
  req: IncomingMessage,
  res: ServerResponse,
  stream: LiveStream,
  path: LivePath,
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
    'content-type': path.kind === 'init' ? 'video/mp4' : 'video/iso.segment',
    'content-length': body.length,
    'cache-control': IMMUTABLE,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
