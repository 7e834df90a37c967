import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Express } from 'express';
import { addHealthAndMetrics, controlApp, finishControlApp, handleWith } from '../common/control-app.ts';
import { RingcastError } from '../common/errors.ts';
import {
  CORS_HEADERS,
  IMMUTABLE,
  liveContentType,
  PLAYLIST_TYPE,
  PREFLIGHT_HEADERS,
  playlistCacheControl,
} from '../common/hls-http.ts';
import { sendError } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { isPartFile, type LivePath, parseLivePath } from '../common/names.ts';
import type { LiveStream } from './live-stream.ts';
import { heldPart, parseBlockingRequest, parseSkip, waitForPlaylist } from './ll-hls-reads.ts';
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

/** One answer of `/live/…`: the request, where to write it, and the byte counter of its stream. */
interface LiveRequest {
  req: IncomingMessage;
  res: ServerResponse;
  path: LivePath;
  stream: LiveStream;
  query: string;
  served: (bytes: number) => void;
}

/**
 * The origin's public HTTP handler: `/live/…` (playlists, init, segments, LL-HLS parts and blocking
 * reloads, which the relays fill from) on its own handler; health and metrics on the control app
 * (common/control-app.ts). What every path shares is decided first, as before the split: CORS headers on
 * every answer, a preflight for any path, 405 for a method other than GET and HEAD, 503 while closing.
 */
export function createOriginHandler(
  deps: OriginHttpDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const control = handleWith(originControlApp(deps));
  return (req, res) => {
    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, PREFLIGHT_HEADERS).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendError(res, new RingcastError('RC_METHOD_NOT_ALLOWED'), deps.log);
    if (deps.closing()) return sendError(res, new RingcastError('RC_SHUTTING_DOWN'), deps.log);
    if (!(req.url ?? '/').startsWith('/live/')) return control(req, res);
    void serveLive(deps, req, res).catch((err) => sendError(res, err, deps.log));
  };
}

/** `GET /healthz` (each stream's state) and `GET /metrics`; anything else is RC_NOT_FOUND. */
function originControlApp(deps: OriginHttpDeps): Express {
  const app = controlApp({ pathsOnly: true });
  addHealthAndMetrics(app, {
    health: () => ({
      ok: true,
      part: 'origin',
      streams: [...deps.streams.values()].map((s) => ({ id: s.id, state: s.state })),
    }),
    registry: deps.metrics.registry,
  });
  finishControlApp(app, deps.log);
  return app;
}

/** `/live/<stream>/…`: the path is validated before any state or file is touched (a bad one is a 400). */
async function serveLive(deps: OriginHttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [pathname = '/', query = ''] = (req.url ?? '/').split('?');
  const path = parseLivePath(pathname);
  const stream = deps.streams.get(path.streamId);
  if (!stream) throw new RingcastError('RC_STREAM_NOT_FOUND');
  const served = (bytes: number) => {
    if (req.method === 'GET') deps.metrics.bytesServed.inc({ stream: path.streamId }, bytes);
  };
  const live: LiveRequest = { req, res, path, stream, query, served };
  if (path.kind === 'master') return sendBody(live, PLAYLIST, playlistBody(stream.masterPlaylist()));
  if (!path.rendition || !stream.hasRendition(path.rendition)) throw new RingcastError('RC_NOT_FOUND');
  if (path.kind === 'playlist') return serveMediaPlaylist(live, path.rendition);
  if (isPartFile(path.file)) return servePart(live, path.rendition);
  return serveFile(deps, live, path.rendition);
}

/** A media playlist; with LL-HLS, a blocking reload is held first and `_HLS_skip` asks for a delta. */
async function serveMediaPlaylist(live: LiveRequest, rendition: string): Promise<void> {
  const { stream, path, query } = live;
  if (path.file !== 'index.m3u8') throw new RingcastError('RC_NOT_FOUND');
  let skip = false;
  if (stream.lowLatency && query) {
    const q = new URLSearchParams(query);
    const blocking = parseBlockingRequest(q);
    if (blocking) await waitForPlaylist(stream, rendition, blocking);
    skip = parseSkip(q);
  }
  sendBody(live, PLAYLIST, playlistBody(stream.mediaPlaylist(rendition, skip)));
}

/** An LL-HLS part from memory; the next one (the preload hint) is held until it is complete. */
async function servePart(live: LiveRequest, rendition: string): Promise<void> {
  const [msn, index] = live.path.file.split('.').map(Number) as [number, number];
  const part = await heldPart(live.stream, rendition, msn, index);
  if (!part) throw new RingcastError('RC_NOT_FOUND');
  sendBody(live, media(live.path.file), part.data);
}

/** A segment or init section: from memory until its file is written, then from disk. */
async function serveFile(deps: OriginHttpDeps, live: LiveRequest, rendition: string): Promise<void> {
  const { path, req } = live;
  let body = live.stream.memoryFile(rendition, path.file);
  try {
    body ??= await readFile(join(deps.dataDir, path.streamId, rendition, path.file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RingcastError('RC_NOT_FOUND');
    throw err;
  }
  if (path.kind === 'segment' && req.method === 'GET') {
    deps.metrics.segmentRequests.inc({ stream: path.streamId, rendition });
  }
  sendBody(live, media(path.file), body);
}

/** A playlist's text, or RC_NOT_FOUND while it has no segment. */
function playlistBody(text: string | undefined): string {
  if (text === undefined) throw new RingcastError('RC_NOT_FOUND', 'playlist has no segments yet');
  return text;
}

/** How an answer is labelled and cached: playlists revalidate each second, media is immutable. */
interface BodyKind {
  contentType: string;
  cacheControl: string;
}
const PLAYLIST: BodyKind = { contentType: PLAYLIST_TYPE, cacheControl: playlistCacheControl(1000) };
const media = (file: string): BodyKind => ({ contentType: liveContentType(file), cacheControl: IMMUTABLE });

/** 200 with the body (none for HEAD), counted as served. */
function sendBody(live: LiveRequest, kind: BodyKind, body: string | Buffer): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  live.res.writeHead(200, {
    'content-type': kind.contentType,
    'content-length': length,
    'cache-control': kind.cacheControl,
  });
  live.res.end(live.req.method === 'HEAD' ? undefined : body);
  live.served(length);
}
