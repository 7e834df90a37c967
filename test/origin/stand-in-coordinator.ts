import { createServer, type Server } from 'node:http';
import { listen } from '../../common/http.ts';
import type { SegmentAnnouncement, StreamInfo } from '../../common/types.ts';

/**
 * A stand-in coordinator for origin tests: records what the origin announces (streams, segments) and,
 * given a key table, answers publish-auth from it. Without a table every call is answered 200 `{}`.
 */
export interface StandInCoordinator {
  url: string;
  /** Stream key → stream id; a key removed here is refused at the next check. */
  keys: Map<string, string>;
  authCalls: string[];
  streams: Array<{ id: string; body: Omit<StreamInfo, 'id'>; auth?: string }>;
  segments: SegmentAnnouncement[];
  server: Server;
}

export async function standInCoordinator(opts: {
  secret: string;
  /** Answer publish-auth from `keys` (else 200 `{}`), and 401 a call without the secret. */
  checksKeys?: boolean;
  /** A key whose check answers 503, as a coordinator whose store is down. */
  downKey?: string;
}): Promise<StandInCoordinator> {
  const fake = { keys: new Map(), authCalls: [], streams: [], segments: [] } as unknown as StandInCoordinator;
  fake.server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (opts.checksKeys && req.headers.authorization !== `Bearer ${opts.secret}`) return json(401, {});
      if (opts.checksKeys && req.url === '/api/v1/publish-auth') {
        const { key } = JSON.parse(body) as { key: string };
        fake.authCalls.push(key);
        if (key === opts.downKey) return json(503, { error: { code: 'RC_STORE_UNAVAILABLE' } });
        const streamId = fake.keys.get(key);
        return streamId ? json(200, { streamId }) : json(403, { error: { code: 'RC_KEY_REFUSED' } });
      }
      const m = /^\/api\/v1\/streams\/([^/]+)(\/segments)?$/.exec(req.url ?? '');
      if (m && req.method === 'PUT')
        fake.streams.push({ id: m[1]!, body: JSON.parse(body), auth: req.headers.authorization });
      else if (m?.[2] && req.method === 'POST') fake.segments.push(JSON.parse(body));
      json(200, {});
    });
  });
  fake.url = await listen(fake.server, 0);
  return fake;
}
