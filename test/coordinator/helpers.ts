import { request } from 'node:http';
import type { ExecutionContext } from 'ava';
import { loadConfig } from '../../common/config.ts';
import { type Logger, silentLogger } from '../../common/log.ts';
import { SseParser } from '../../common/sse.ts';
import { Coordinator } from '../../coordinator/app.ts';
import { COORDINATOR_CONFIG, type CoordinatorConfig } from '../../coordinator/config.ts';
import type { ClusterStore } from '../../coordinator/store.ts';
import { TestRedis } from '../../harness/redis.ts';
import { waitFor } from '../../harness/wait.ts';

/** Wire JSON, read loosely in tests (the shapes are asserted, not typed). */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = any;

export const SECRET = 'test-secret-123';

export interface TestCoordinator {
  url: string;
  coordinator: Coordinator;
  config: CoordinatorConfig;
  close(): Promise<void>;
}

/** A coordinator on an OS-chosen port with test defaults; environment variables are ignored. */
export async function startCoordinator(
  overrides: Partial<Record<keyof CoordinatorConfig, unknown>> = {},
  store?: ClusterStore,
  log: Logger = silentLogger(),
): Promise<TestCoordinator> {
  const config = loadConfig(COORDINATOR_CONFIG, [], {}, { port: 0, clusterSecret: SECRET, ...overrides });
  const coordinator = new Coordinator(config, { log, store });
  const { url } = await coordinator.start();
  return { url, coordinator, config, close: () => coordinator.close() };
}

/** A redis-server of the test's own and `n` coordinators keeping their state in it, torn down with the test. */
export async function coordinatorsOnRedis(
  t: ExecutionContext,
  n: number,
): Promise<{ redis: TestRedis; coordinators: TestCoordinator[] }> {
  const redis = await TestRedis.create();
  t.teardown(() => redis.destroy());
  const coordinators: TestCoordinator[] = [];
  for (let i = 0; i < n; i++) {
    const c = await startCoordinator({ redisUrl: redis.url });
    t.teardown(() => c.close());
    coordinators.push(c);
  }
  return { redis, coordinators };
}

/** A JSON call; resolves with status and parsed body whatever the status. */
export async function call(
  url: string,
  opts: { method?: string; body?: unknown; secret?: string | null; rawBody?: string } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const secret = opts.secret === undefined ? SECRET : opts.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  const res = await fetch(url, {
    method: opts.method ?? (opts.body === undefined && opts.rawBody === undefined ? 'GET' : 'POST'),
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

export function registerRelay(base: string, id: string, url: string, capacity = 1) {
  return call(`${base}/api/v1/relays`, { body: { id, url, capacity } });
}

export function heartbeat(base: string, id: string, viewers = 0) {
  return call(`${base}/api/v1/relays/${id}/heartbeat`, {
    body: { load: { viewers, cacheBytes: 0, bytesServedTotal: 0 } },
  });
}

export const RENDITIONS = [
  {
    name: '720p',
    bandwidth: 3_300_000,
    averageBandwidth: 3_000_000,
    width: 1280,
    height: 720,
    codecs: 'avc1.64001f,mp4a.40.2',
    frameRate: 30,
  },
  { name: '360p', bandwidth: 900_000, width: 640, height: 360, codecs: 'avc1.64001e,mp4a.40.2' },
];

export function putStream(base: string, id: string, originUrl = 'http://127.0.0.1:9999') {
  return call(`${base}/api/v1/streams/${id}`, {
    method: 'PUT',
    body: { state: 'live', originUrl, renditions: RENDITIONS, targetDuration: 2 },
  });
}

export function segmentBody(streamId: string, msn = 1) {
  return {
    streamId,
    rendition: '720p',
    msn,
    file: `${msn}.m4s`,
    size: 1234,
    sha256: 'a'.repeat(64),
    duration: 2,
    programDateTime: new Date().toISOString(),
  };
}

/** An SSE subscriber that records every event and can wait for one matching a predicate. */
export class SseClient {
  readonly events: Array<{ event: string; data: Json }> = [];
  /** True once the server ended the stream (or it was closed here). */
  ended = false;
  private readonly abort = new AbortController();

  /** Opens `url` with the cluster secret (`secret: null`: without one). */
  static async open(url: string, opts: { secret?: string | null } = {}): Promise<SseClient> {
    const client = new SseClient();
    const secret = opts.secret === undefined ? SECRET : opts.secret;
    const headers: Record<string, string> = secret === null ? {} : { authorization: `Bearer ${secret}` };
    const res = await fetch(url, { headers, signal: client.abort.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${url}: ${res.status}`);
    const parser = new SseParser((event, data) => client.events.push({ event, data: JSON.parse(data) }));
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          parser.push(decoder.decode(chunk, { stream: true }));
        }
      } catch {}
      client.ended = true;
    })();
    return client;
  }

  waitFor(event: string, match: (data: Json) => boolean = () => true, timeoutMs = 5000): Promise<Json> {
    return waitFor(() => this.events.find((e) => e.event === event && match(e.data))?.data, {
      timeoutMs,
      intervalMs: 20,
      what: `SSE event ${event}`,
    });
  }

  close(): void {
    this.abort.abort();
  }
}

/**
 * A request whose path is sent byte for byte (fetch would normalise `..` and `%2e%2e` away), with
 * optional headers and body; the answer's headers and text too.
 */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: Json; headers: Record<string, string | string[] | undefined> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: opts.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
