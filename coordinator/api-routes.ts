import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import { readJsonBody, sendJson } from '../common/http.ts';
import type { ClusterView } from '../common/types.ts';
import { AUTH_HEADER } from '../common/types.ts';
import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { CoordinatorState } from './coordinator-state.ts';
import type { DashboardFeed } from './dashboard-feed.ts';
import type { EventHub } from './event-hub.ts';
import type { RouteContext, Router } from './router.ts';
import type { ClusterStore } from './store.ts';
import { parseHeartbeat, parseRegister, parseSegment, parseStream } from './validate.ts';

export interface ApiDeps {
  state: CoordinatorState;
  store: ClusterStore;
  hub: EventHub;
  dashboard: DashboardFeed;
  metrics: CoordinatorMetrics;
  clusterSecret: string;
  heartbeatIntervalMs: number;
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

/** `/api/v1/*`: membership calls from relays, stream calls from origins, and read-only views. */
export function addApiRoutes(router: Router, deps: ApiDeps): void {
  const { state, store, hub } = deps;
  const mutating = (fn: (ctx: RouteContext) => Promise<void>) => async (ctx: RouteContext) => {
    requireSecret(ctx.req, deps.clusterSecret);
    requireStore(store);
    await fn(ctx);
  };

  router.add(
    'POST',
    '/api/v1/relays',
    mutating(async ({ req, res }) => {
      const { relay, ring } = await state.register(parseRegister(await readJsonBody(req)));
      sendJson(res, 200, { relay, ring, heartbeatIntervalMs: deps.heartbeatIntervalMs });
    }),
  );
  router.add(
    'POST',
    '/api/v1/relays/:id/heartbeat',
    mutating(async ({ req, res, params }) => {
      const { load } = parseHeartbeat(await readJsonBody(req));
      sendJson(res, 200, { ringVersion: await state.heartbeat(params.id!, load) });
    }),
  );
  router.add(
    'POST',
    '/api/v1/relays/:id/drain',
    mutating(async ({ res, params }) => {
      sendJson(res, 200, { relay: await state.drain(params.id!) });
    }),
  );
  router.add(
    'DELETE',
    '/api/v1/relays/:id',
    mutating(async ({ res, params }) => {
      await state.remove(params.id!);
      sendJson(res, 200, { ok: true });
    }),
  );
  router.add(
    'PUT',
    '/api/v1/streams/:streamId',
    mutating(async ({ req, res, params }) => {
      const stream = parseStream(await readJsonBody(req), params.streamId!);
      await state.putStream(stream);
      sendJson(res, 200, { stream });
    }),
  );
  router.add(
    'POST',
    '/api/v1/streams/:streamId/segments',
    mutating(async ({ req, res, params }) => {
      await state.announce(parseSegment(await readJsonBody(req), params.streamId!));
      deps.metrics.segmentAnnouncements.inc();
      sendJson(res, 202, { ok: true });
    }),
  );
  router.add('GET', '/api/v1/ring', ({ res }) => sendJson(res, 200, state.ringView()));
  router.add('GET', '/api/v1/cluster', ({ res }) => {
    const view: ClusterView = { ring: state.ringView(), streams: state.streamList() };
    sendJson(res, 200, view);
  });
  router.add('GET', '/api/v1/streams/:streamId', ({ res, params }) => {
    const stream = state.getStream(params.streamId!);
    if (!stream) throw new RingcastError('RC_STREAM_NOT_FOUND');
    sendJson(res, 200, { stream });
  });
  // Segment sizes and hashes, origin URLs, every membership change: for cluster members only.
  router.add('GET', '/api/v1/events', ({ req, res }) => {
    requireSecret(req, deps.clusterSecret);
    // A HEAD probe gets the headers only; it must not sit in the subscriber list.
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
    hub.add(req, res, [{ event: 'snapshot', data: { ring: state.ringView(), streams: state.streamList() } }]);
  });
  router.add('GET', '/api/v1/dashboard/events', ({ req, res }) => {
    if (req.method === 'HEAD') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
    deps.dashboard.add(req, res);
  });
}
