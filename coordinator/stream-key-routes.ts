import { RingcastError } from '../common/errors.ts';
import { readJsonBody, sendJson } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import { requireSecret, requireStore } from './api-routes.ts';
import type { CoordinatorMetrics } from './coordinator-metrics.ts';
import type { CoordinatorState } from './coordinator-state.ts';
import type { RouteContext, Router } from './router.ts';
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
 * Stream registrations and keys (operators, through `ringcast streams`) and publish-auth (the origin's
 * RTMP server, before it reads any media). Every call needs the cluster secret; keys appear only in
 * the answers that make them, never in a list or a log.
 */
export function addStreamKeyRoutes(router: Router, deps: StreamKeyRouteDeps): void {
  const { registry, state, store, metrics } = deps;
  const log = deps.log.child({ component: 'stream-keys' });
  const authed =
    (fn: (ctx: RouteContext) => Promise<void>, opts: { write: boolean }) => async (ctx: RouteContext) => {
      requireSecret(ctx.req, deps.clusterSecret);
      if (opts.write) requireStore(store);
      await fn(ctx);
    };
  const write = { write: true };

  router.add(
    'POST',
    '/api/v1/streams',
    authed(async ({ req, res }) => {
      const { id } = parseStreamRegistration(await readJsonBody(req));
      sendJson(res, 201, await registry.create(id));
    }, write),
  );
  router.add(
    'GET',
    '/api/v1/streams',
    authed(
      async ({ res }) => {
        const regs = await registry.list();
        const streams = regs.map((r) => toRegistrationData(r, state.getStream(r.id)?.state ?? null));
        sendJson(res, 200, { streams });
      },
      { write: false },
    ),
  );
  router.add(
    'DELETE',
    '/api/v1/streams/:streamId',
    authed(async ({ res, params }) => {
      await registry.remove(params.streamId!);
      sendJson(res, 200, { ok: true });
    }, write),
  );
  router.add(
    'POST',
    '/api/v1/streams/:streamId/key',
    authed(async ({ res, params }) => {
      sendJson(res, 200, await registry.rotate(params.streamId!));
    }, write),
  );
  router.add(
    'DELETE',
    '/api/v1/streams/:streamId/key',
    authed(async ({ res, params }) => {
      const reg = await registry.revoke(params.streamId!);
      sendJson(res, 200, { stream: toRegistrationData(reg, state.getStream(reg.id)?.state ?? null) });
    }, write),
  );
  router.add(
    'POST',
    '/api/v1/publish-auth',
    authed(
      async ({ req, res }) => {
        const { key } = parsePublishAuth(await readJsonBody(req));
        try {
          const streamId = await registry.authorize(key);
          metrics.publishAuth.inc({ result: 'accepted' });
          log.info({ streamId }, 'publish accepted');
          sendJson(res, 200, { streamId });
        } catch (err) {
          if (err instanceof RingcastError && err.code === 'RC_KEY_REFUSED') {
            metrics.publishAuth.inc({ result: 'refused' });
            log.info('publish refused: unknown or revoked key');
          }
          throw err;
        }
      },
      { write: false },
    ),
  );
}
