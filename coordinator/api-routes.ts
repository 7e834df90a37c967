import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { RingcastError } from '../common/errors.ts';
import { readJsonBody, sendJson } from '../common/http.ts';
import type { ClusterView } from '../common/types.ts';
import { AUTH_HEADER } from '../common/types.ts';
import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { CoordinatorState } from './coordinator-state.ts';
import type { DashboardFeed } from './dashboard-feed.ts';
import type { EventHub } from './event-hub.ts';
import { type HttpMethod, param, type RouteSpec, row } from './route-table.ts';
import type { ClusterStore } from './store.ts';
import type { StreamRegistry } from './stream-registry.ts';
import { parseHeartbeat, parseRegister, parseSegment, parseStream } from './validate.ts';

export interface ApiDeps {
  state: CoordinatorState;
  store: ClusterStore;
  hub: EventHub;
  dashboard: DashboardFeed;
  metrics: CoordinatorMetrics;
  clusterSecret: string;
  heartbeatIntervalMs: number;
  /** Whether a stream was registered private (its StreamInfo says so to relays). */
  registry: Pick<StreamRegistry, 'isPrivate'>;
}

/** Throws RC_UNAUTHORIZED unless the request carries `Authorization: Bearer <secret>`. */
export function requireSecret(req: IncomingMessage, secret: string): void {
  const got = Buffer.from(String(req.headers[AUTH_HEADER] ?? ''));
  const want = Buffer.from(`Bearer ${secret}`);
  // Constant-time compare: the secret should not leak through response timing.
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new RingcastError('RC_UNAUTHORIZED');
}

/** Writes need the store; while it is down they fail clearly instead of hanging. */
export function requireStore(store: ClusterStore): void {
  if (!store.available) throw new RingcastError('RC_STORE_UNAVAILABLE');
}

/** Guard: the cluster secret, checked before the body is read. */
export function secretGuard(secret: string): RequestHandler {
  return (req, _res, next) => {
    requireSecret(req, secret);
    next();
  };
}

/** Guard: the store is up (for calls that write it). */
export function storeGuard(store: ClusterStore): RequestHandler {
  return (_req, _res, next) => {
    requireStore(store);
    next();
  };
}

/** Membership calls from relays and stream calls from origins: secret and store first. */
function writeRoutes(deps: ApiDeps): RouteSpec[] {
  const { state } = deps;
  const secret = secretGuard(deps.clusterSecret);
  const store = storeGuard(deps.store);
  const write = (method: HttpMethod, path: string, handler: RequestHandler) =>
    row(method, path, secret, store, handler);
  return [
    write('post', '/api/v1/relays', async (req, res) => {
      const { relay, ring } = await state.register(parseRegister(await readJsonBody(req)));
      sendJson(res, 200, { relay, ring, heartbeatIntervalMs: deps.heartbeatIntervalMs });
    }),
    write('post', '/api/v1/relays/:id/heartbeat', async (req, res) => {
      const { load } = parseHeartbeat(await readJsonBody(req));
      sendJson(res, 200, { ringVersion: await state.heartbeat(param(req, 'id'), load) });
    }),
    write('post', '/api/v1/relays/:id/drain', async (req, res) => {
      sendJson(res, 200, { relay: await state.drain(param(req, 'id')) });
    }),
    write('delete', '/api/v1/relays/:id', async (req, res) => {
      await state.remove(param(req, 'id'));
      sendJson(res, 200, { ok: true });
    }),
    write('put', '/api/v1/streams/:streamId', async (req, res) => {
      const stream = parseStream(await readJsonBody(req), param(req, 'streamId'));
      // The registration, not the origin, says whether playback needs a token.
      if (deps.registry.isPrivate(stream.id)) stream.private = true;
      await state.putStream(stream);
      sendJson(res, 200, { stream });
    }),
    write('post', '/api/v1/streams/:streamId/segments', async (req, res) => {
      await state.announce(parseSegment(await readJsonBody(req), param(req, 'streamId')));
      deps.metrics.segmentAnnouncements.inc();
      sendJson(res, 202, { ok: true });
    }),
  ];
}

/** A HEAD probe of an event stream gets the headers only; it must not sit in the subscriber list. */
function headOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'HEAD') return false;
  res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
  return true;
}

/** Read-only views, and the two event streams. */
function readRoutes(deps: ApiDeps): RouteSpec[] {
  const { state } = deps;
  const read = (path: string, ...handlers: RequestHandler[]) => row('get', path, ...handlers);
  return [
    read('/api/v1/ring', (_req, res) => sendJson(res, 200, state.ringView())),
    read('/api/v1/cluster', (_req, res) => {
      const view: ClusterView = { ring: state.ringView(), streams: state.streamList() };
      sendJson(res, 200, view);
    }),
    read('/api/v1/streams/:streamId', (req, res) => {
      const stream = state.getStream(param(req, 'streamId'));
      if (!stream) throw new RingcastError('RC_STREAM_NOT_FOUND');
      sendJson(res, 200, { stream });
    }),
    // Segment sizes and hashes, origin URLs, every membership change: for cluster members only.
    read('/api/v1/events', secretGuard(deps.clusterSecret), (req, res) => {
      if (headOnly(req, res)) return;
      const snapshot = { ring: state.ringView(), streams: state.streamList() };
      deps.hub.add(req, res, [{ event: 'snapshot', data: snapshot }]);
    }),
    read('/api/v1/dashboard/events', (req, res) => {
      if (!headOnly(req, res)) deps.dashboard.add(req, res);
    }),
  ];
}

/** `/api/v1/*`: membership calls from relays, stream calls from origins, and read-only views. */
export function apiRoutes(deps: ApiDeps): RouteSpec[] {
  return [...writeRoutes(deps), ...readRoutes(deps)];
}
