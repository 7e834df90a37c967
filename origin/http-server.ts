import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { RingcastError } from '../common/errors.ts';
import { sendError, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { sendMetrics } from '../common/metrics.ts';
import { type LivePath, parseLivePath } from '../common/names.ts';
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
  const pathname = (req.url ?? '/').split('?')[0]!;
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
    return sendPlaylist(req, res, stream.mediaPlaylist(path.rendition));
  }
  return sendFile(deps, req, res, path);
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

async function sendFile(deps: OriginHttpDeps, req: IncomingMessage, res: ServerResponse, path: LivePath) {
  let body: Buffer;
  try {
    body = await readFile(join(deps.dataDir, path.streamId, path.rendition!, path.file));
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
