import type { IncomingMessage } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import { readJsonBody, sendJson } from '../common/http.ts';
import { mintToken, type PlaybackKey } from '../common/playback-token.ts';
import type { PlaybackTokenData } from '../common/types.ts';
import { secretGuard } from './api-routes.ts';
import { type RouteSpec, row } from './route-table.ts';
import type { StreamRegistry } from './stream-registry.ts';
import { parseTokenRequest } from './validate.ts';

export interface TokenRouteDeps {
  registry: Pick<StreamRegistry, 'list'>;
  playbackKeys: readonly PlaybackKey[];
  clusterSecret: string;
  /** The coordinator's base URL as viewers reach it. */
  publicUrl: (req: IncomingMessage) => string;
}

/** The playback URL of a token: the coordinator's master with the token as a path prefix. */
export function playbackUrl(base: string, stream: string, token: string): string {
  return `${base}/t/${token}/live/${stream}/master.m3u8`;
}

/**
 * `POST /api/v1/tokens` (cluster secret): a playback token for a registered stream, for an operator's
 * web backend, with the URL a player opens (docs/api.md, "Signed playback"). Tokens are minted locally,
 * nothing is stored: the relays check them with the same keys.
 */
export function tokenRoutes(deps: TokenRouteDeps): RouteSpec[] {
  return [
    row('post', '/api/v1/tokens', secretGuard(deps.clusterSecret), async (req, res) => {
      const { stream, ttlSeconds, network } = parseTokenRequest(await readJsonBody(req));
      if (!(await deps.registry.list()).some((r) => r.id === stream))
        throw new RingcastError('RC_STREAM_NOT_FOUND', `stream '${stream}' is not registered`);
      const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
      let token: string;
      try {
        token = mintToken(deps.playbackKeys, { stream, expiresAt, bind: network ? { network } : undefined });
      } catch {
        throw new RingcastError('RC_BAD_BODY', "'network' is not a valid network");
      }
      const answer: PlaybackTokenData = {
        token,
        url: playbackUrl(deps.publicUrl(req), stream, token),
        expiresAt: new Date(expiresAt * 1000).toISOString(),
      };
      sendJson(res, 200, answer);
    }),
  ];
}
