import type { RequestHandler } from 'express';
import { RingcastError } from '../common/errors.ts';
import { readJsonBody, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { secretGuard, storeGuard } from './api-routes.ts';
import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { CoordinatorState } from './coordinator-state.ts';
import { type HttpMethod, param, type RouteSpec, row } from './route-table.ts';
import type { ClusterStore } from './store.ts';
import { type StreamRegistry, toRegistrationData } from './stream-registry.ts';
import { parsePublishAuth, parseStreamRegistration } from './validate.ts';

export interface StreamKeyRouteDeps {
  registry: StreamRegistry;
  state: CoordinatorState;
  store: ClusterStore;
  metrics: CoordinatorMetrics;
  clusterSecret: string;
  log: Logger;
}

/**
 * `POST /api/v1/publish-auth`: the origin asks before it reads any media. Only a refused key is counted
 * and logged as refused; any other failure (the store, a bad body) is an error, not a refusal.
 */
function publishAuth(deps: StreamKeyRouteDeps, log: Logger): RequestHandler {
  return async (req, res) => {
    const { key } = parsePublishAuth(await readJsonBody(req));
    try {
      const streamId = await deps.registry.authorize(key);
      deps.metrics.publishAuth.inc({ result: 'accepted' });
      log.info({ streamId }, 'publish accepted');
      sendJson(res, 200, { streamId });
    } catch (err) {
      if (err instanceof RingcastError && err.code === 'RC_KEY_REFUSED') {
        deps.metrics.publishAuth.inc({ result: 'refused' });
        log.info('publish refused: unknown or revoked key');
      }
      throw err;
    }
  };
}

/**
 * Stream registrations and keys (operators, through `ringcast streams`) and publish-auth (the origin's
 * RTMP server, before it reads any media). Every call needs the cluster secret; keys appear only in
 * the answers that make them, never in a list or a log.
 */
export function streamKeyRoutes(deps: StreamKeyRouteDeps): RouteSpec[] {
  const { registry, state } = deps;
  const log = deps.log.child({ component: 'stream-keys' });
  const secret = secretGuard(deps.clusterSecret);
  const store = storeGuard(deps.store);
  const read = (method: HttpMethod, path: string, handler: RequestHandler) =>
    row(method, path, secret, handler);
  const write = (method: HttpMethod, path: string, handler: RequestHandler) =>
    row(method, path, secret, store, handler);
  const withState = (reg: Parameters<typeof toRegistrationData>[0]) =>
    toRegistrationData(reg, state.getStream(reg.id)?.state ?? null);
  return [
    write('post', '/api/v1/streams', async (req, res) => {
      const { id, private: isPrivate } = parseStreamRegistration(await readJsonBody(req));
      const created = await registry.create(id, { private: isPrivate });
      // A stream already announced (a test pattern, an origin that went live first) turns private now:
      // relays learn it from the `stream` event, not at the origin's next announcement.
      const live = state.getStream(id);
      if (isPrivate && live && !live.private) await state.putStream({ ...live, private: true });
      sendJson(res, 201, created);
    }),
    read('get', '/api/v1/streams', async (_req, res) => {
      sendJson(res, 200, { streams: (await registry.list()).map(withState) });
    }),
    write('delete', '/api/v1/streams/:streamId', async (req, res) => {
      await registry.remove(param(req, 'streamId'));
      sendJson(res, 200, { ok: true });
    }),
    write('post', '/api/v1/streams/:streamId/key', async (req, res) => {
      sendJson(res, 200, await registry.rotate(param(req, 'streamId')));
    }),
    write('delete', '/api/v1/streams/:streamId/key', async (req, res) => {
      sendJson(res, 200, { stream: withState(await registry.revoke(param(req, 'streamId'))) });
    }),
    read('post', '/api/v1/publish-auth', publishAuth(deps, log)),
  ];
}
