import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { plainAddress } from '../common/address-key.ts';
import { RingcastError } from '../common/errors.ts';
import { CORS_HEADERS, NO_STORE, PLAYLIST_TYPE } from '../common/hls-http.ts';
import { sendJson } from '../common/http.ts';
import { NAME_RE } from '../common/names.ts';
import type { PlaybackGate } from '../common/playback-gate.ts';
import type { RelayInfo, StreamInfo } from '../common/types.ts';
import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { CoordinatorState } from './coordinator-state.ts';
import { param, queryOf, type RouteSpec, row } from './route-table.ts';
import { buildMasterPlaylist, buildSteeringManifest, steeringUrl } from './steering.ts';
import type { ViewerBalancer } from './viewer-balancer.ts';

export interface ViewerDeps {
  state: CoordinatorState;
  balancer: ViewerBalancer;
  metrics: CoordinatorMetrics;
  steeringTtlSeconds: number;
  /** The key sessions are bounded per address under (`clientAddressKey`). */
  clientAddress: (req: IncomingMessage) => string;
  /** The coordinator's base URL as viewers reach it. */
  publicUrl: (req: IncomingMessage) => string;
  /** Private streams' playback tokens. */
  playback: Pick<PlaybackGate, 'check'>;
}

/** Per viewer, and fetched by players from pages served elsewhere too. */
const VIEWER_HEADERS = { 'cache-control': NO_STORE, ...CORS_HEADERS };

function sessionOf(query: URLSearchParams): string {
  const s = query.get('session');
  if (s === null || s === '') return randomUUID();
  if (!NAME_RE.test(s)) throw new RingcastError('RC_BAD_REQUEST', `session must match ${NAME_RE.source}`);
  return s;
}

/**
 * The session's relays (primary first), only those still in the ring and active. `current`: the pathway
 * the player reports being on, adopted by a session this coordinator has not placed (within the cap).
 */
function relaysFor(
  deps: ViewerDeps,
  stream: StreamInfo,
  session: string,
  req: IncomingMessage,
  current?: string,
): RelayInfo[] {
  const ring = deps.state.ringView();
  const a = deps.balancer.assign(session, Date.now(), { current, address: deps.clientAddress(req) });
  if (a.created) deps.metrics.sessionsAssigned.inc();
  if (!a.remembered) deps.metrics.sessionsNotRemembered.inc();
  const byId = new Map(ring.relays.map((r) => [r.id, r]));
  const relays = a.relayIds.map((id) => byId.get(id)).filter((r): r is RelayInfo => r?.state === 'active');
  if (relays.length === 0) throw new RingcastError('RC_NO_RELAY', `no active relay for stream ${stream.id}`);
  return relays;
}

/**
 * The pathway the player is on (`_HLS_pathway`, sent by hls.js and Safari). When this coordinator did
 * not serve the session's master (it restarted, or another coordinator did), that pathway is one the
 * player certainly has levels for, so clones based on it work; a guess might name a pathway it lacks.
 */
function hintedPathway(query: URLSearchParams): string | undefined {
  const p = query.get('_HLS_pathway');
  return p !== null && NAME_RE.test(p) ? p : undefined;
}

function knownStream(deps: ViewerDeps, id: string): StreamInfo {
  const stream = deps.state.getStream(id);
  if (!stream) throw new RingcastError('RC_STREAM_NOT_FOUND');
  // A master playlist without variants is invalid; until the origin names its renditions there is none.
  if (stream.renditions.length === 0)
    throw new RingcastError('RC_STREAM_NOT_FOUND', 'stream has no renditions yet');
  return stream;
}

/**
 * The token a private stream's viewer shows (`/t/<token>/...`), checked; undefined for a public stream,
 * whose URIs stay plain whatever was sent. Checked before the viewer is placed.
 */
function admittedToken(deps: ViewerDeps, stream: StreamInfo, req: IncomingMessage, query: URLSearchParams) {
  if (!stream.private) return undefined;
  const parts = (req as { params?: { token?: string[] } }).params?.token;
  const token = parts === undefined ? undefined : parts.join('/');
  const refused = deps.playback.check({
    token,
    stream: stream.id,
    address: plainAddress(req.socket.remoteAddress ?? ''),
    session: query.get('session') ?? undefined,
  });
  if (refused) throw refused;
  return token;
}

function sendText(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { ...VIEWER_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** `GET /live/:streamId/master.m3u8`: places the session on a relay and answers a master on it. */
function masterHandler(deps: ViewerDeps): RequestHandler {
  return (req, res) => {
    const query = queryOf(req);
    const session = sessionOf(query);
    const stream = knownStream(deps, param(req, 'streamId'));
    const token = admittedToken(deps, stream, req, query);
    // The origin says live once every variant has a segment; a master offered before (or for a stream
    // whose input failed) would send players to playlists that answer 404, and ffmpeg gives up.
    if (stream.state === 'idle' || stream.state === 'error')
      throw new RingcastError('RC_STREAM_NOT_FOUND', `stream is not live (${stream.state})`);
    const [primary] = relaysFor(deps, stream, session, req);
    deps.balancer.setBasePathway(session, primary!.id);
    const steeringUri = steeringUrl(deps.publicUrl(req), stream.id, session, token);
    sendText(res, PLAYLIST_TYPE, buildMasterPlaylist({ stream, primary: primary!, steeringUri, token }));
  };
}

/** `GET /steer/:streamId`: the session's failover plan (docs/architecture.md, "Viewer entry and steering"). */
function steeringHandler(deps: ViewerDeps): RequestHandler {
  return (req, res) => {
    const query = queryOf(req);
    const session = sessionOf(query);
    const stream = knownStream(deps, param(req, 'streamId'));
    const token = admittedToken(deps, stream, req, query);
    const onPathway = hintedPathway(query);
    const relays = relaysFor(deps, stream, session, req, onPathway);
    const basePathway = deps.balancer.basePathway(session) ?? onPathway ?? relays[0]!.id;
    deps.balancer.setBasePathway(session, basePathway);
    const reloadUri = steeringUrl(deps.publicUrl(req), stream.id, session, token);
    const manifest = buildSteeringManifest({
      stream,
      relays,
      basePathway,
      reloadUri,
      ttlSeconds: deps.steeringTtlSeconds,
      token,
    });
    for (const [name, value] of Object.entries(VIEWER_HEADERS)) res.setHeader(name, value);
    sendJson(res, 200, manifest);
  };
}

/**
 * `/live/:streamId/master.m3u8` and `/steer/:streamId`: the viewer's entry and its failover plan; with a
 * playback token in front (`/t/<token>/...`, a wildcard: a token is not a name) for private streams.
 */
export function viewerRoutes(deps: ViewerDeps): RouteSpec[] {
  return [
    row('get', '/live/:streamId/master.m3u8', masterHandler(deps)),
    row('get', '/steer/:streamId', steeringHandler(deps)),
    row('get', '/t/*token/live/:streamId/master.m3u8', masterHandler(deps)),
    row('get', '/t/*token/steer/:streamId', steeringHandler(deps)),
  ];
}
