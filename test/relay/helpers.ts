/** Test doubles for relay tests: a scriptable upstream server, an HTTP client, a relay starter. */
import { createHash } from 'node:crypto';
import { Agent, createServer, type IncomingHttpHeaders, request, type ServerResponse } from 'node:http';
import { loadConfig } from '../../common/config.ts';
import { closeServer, listen } from '../../common/http.ts';
import { silentLogger } from '../../common/log.ts';
import type { SegmentAnnouncement, StreamInfo } from '../../common/types.ts';
import { Relay } from '../../relay/app.ts';
import { RELAY_CONFIG, type RelayConfig } from '../../relay/config.ts';
import { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';

/** How the fake upstream answers one path. */
/**
 * ok: whole body; slow: half, then the rest on release(); held: nothing until release() (an LL-HLS
 * blocking reload); die: half, then reset; 500; 502; refuse: 502 RC_ORIGIN_LINK_DOWN (a peer refusing a
 * hop); hang: never answers; reset-reused: resets a reused socket;
 * redirect: 302 to `redirectTo`; 400, 403, 410: that status with an error body as the origin sends it
 * (400: `RC_BAD_REQUEST`, as for a blocking reload too far ahead; the others a code of no such status).
 */
export type Behaviour =
  | 'ok'
  | 'slow'
  | 'held'
  | 'die'
  | '500'
  | '502'
  | 'refuse'
  | 'hang'
  | 'reset-reused'
  | 'redirect'
  | '400'
  | '403'
  | '410';

/** A tiny origin (or peer) that serves byte objects by path after `/live/` and counts requests. */
export class FakeUpstream {
  readonly objects = new Map<string, Buffer>();
  readonly behaviour = new Map<string, Behaviour>();
  readonly requests = new Map<string, number>();
  readonly hopHeaders: (string | undefined)[] = [];
  url = '';
  redirectTo = '';
  private releaseSlow: (() => void) | undefined;
  private slowGate = new Promise<void>((r) => {
    this.releaseSlow = r;
  });
  private readonly hanging = new Set<ServerResponse>();
  private readonly seenSockets = new WeakSet<object>();
  private readonly server = createServer((req, res) => {
    const key = (req.url ?? '').replace(/^\/live\//, '').replace(/\?.*$/, '');
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.hopHeaders.push(req.headers['x-ringcast-hop'] as string | undefined);
    const body = this.objects.get(key);
    const mode = this.behaviour.get(key) ?? 'ok';
    const reused = this.seenSockets.has(req.socket);
    this.seenSockets.add(req.socket);
    if (mode === 'reset-reused' && reused) {
      // What an upstream that closed an idle keep-alive socket looks like to the relay.
      req.socket.destroy();
      return;
    }
    if (mode === 'held' && body) {
      void this.slowGate.then(() => res.writeHead(200, { 'content-length': body.length }).end(body));
      return;
    }
    if (mode === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (mode === 'redirect') {
      res.writeHead(302, { location: this.redirectTo }).end();
      return;
    }
    if (mode === 'refuse') {
      res.writeHead(502, { 'x-ringcast-error': 'RC_ORIGIN_LINK_DOWN' }).end();
      return;
    }
    if (mode === '400' || mode === '403' || mode === '410') {
      const code = mode === '400' ? 'RC_BAD_REQUEST' : 'RC_NOT_FOUND';
      const text = JSON.stringify({ error: { code, message: `origin says ${mode}` } });
      res
        .writeHead(Number(mode), { 'content-type': 'application/json', 'content-length': text.length })
        .end(text);
      return;
    }
    if (mode === '500' || mode === '502') {
      res.writeHead(Number(mode)).end('boom');
      return;
    }
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    const half = body.subarray(0, body.length >> 1);
    if (mode === 'die') res.write(half, () => res.socket?.destroy());
    else if (mode === 'slow') {
      res.write(half);
      void this.slowGate.then(() => res.end(body.subarray(half.length)));
    } else res.end(body);
  });

  async start(): Promise<this> {
    this.url = await listen(this.server, 0);
    return this;
  }

  /** Lets every held `slow` body finish (and later ones run straight through). */
  release(): void {
    this.releaseSlow?.();
  }

  /** Makes `slow` bodies wait again. */
  hold(): void {
    this.slowGate = new Promise<void>((r) => {
      this.releaseSlow = r;
    });
  }

  count(key: string): number {
    return this.requests.get(key) ?? 0;
  }

  total(): number {
    let n = 0;
    for (const v of this.requests.values()) n += v;
    return n;
  }

  async close(): Promise<void> {
    this.release();
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await closeServer(this.server);
  }
}

/**
 * Keep-alive, as players use: plain GETs then reach the relay's fast path (fast-http.ts). The files
 * under `node-path.test.ts` run the same tests with the fast path off (RINGCAST_TEST_NODE_PATH=1).
 */
const keepAlive = new Agent({ keepAlive: true });

export interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * GET (or another method) with node:http; rejects when the connection breaks or the body is shorter
 * than its Content-Length, which is how a viewer sees a failed fill.
 */
export function get(
  url: string,
  headers: Record<string, string> = {},
  opts: { method?: string; onFirstBytes?: (b: Buffer) => void; rawPath?: string } = {},
): Promise<Got> {
  const u = new URL(url);
  // rawPath goes out byte for byte: URL parsing would resolve `..` before the relay sees it.
  const target = { hostname: u.hostname, port: u.port, path: opts.rawPath ?? u.pathname + u.search };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, agent: keepAlive, headers, method: opts.method ?? 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      let ended = false;
      res.on('data', (c: Buffer) => {
        if (chunks.length === 0) opts.onFirstBytes?.(c);
        chunks.push(c);
      });
      res.on('end', () => {
        ended = true;
        const body = Buffer.concat(chunks);
        const declared = res.headers['content-length'];
        if (opts.method !== 'HEAD' && declared !== undefined && Number(declared) !== body.length) {
          reject(new Error(`short body ${body.length}/${declared}`));
        } else resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', reject);
      res.on('close', () => {
        if (!ended) reject(new Error('connection closed mid-body'));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads one sample from Prometheus text: `name{labels}` with labels written as in the text. */
export function metric(text: string, name: string, labels = ''): number {
  const want = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${want} `)) return Number(line.slice(want.length + 1));
  }
  return 0;
}

export async function metrics(relayUrl: string): Promise<string> {
  return (await get(`${relayUrl}/metrics`)).body.toString();
}

/** A relay config for tests: OS-chosen port, no coordinator; tests of timeouts set their own. */
export function relayConfig(overrides: Partial<Record<keyof RelayConfig, unknown>> = {}): RelayConfig {
  return loadConfig(
    RELAY_CONFIG,
    [],
    {},
    {
      port: 0,
      // Generous: a loaded 2-core machine must not turn a slow test into a timeout.
      connectTimeoutMs: 3000,
      firstByteTimeoutMs: 3000,
      idleTimeoutMs: 3000,
      drainMs: 0,
      fastPath: process.env.RINGCAST_TEST_NODE_PATH !== '1',
      ...overrides,
    },
  );
}

/** Starts a relay on a fake cluster. */
export async function startRelay(
  cluster: MemoryClusterSource,
  overrides: Partial<Record<keyof RelayConfig, unknown>> = {},
): Promise<{ relay: Relay; url: string; id: string }> {
  const relay = new Relay(relayConfig(overrides), { log: silentLogger(), cluster });
  const { url, id } = await relay.start();
  return { relay, url, id };
}

/** A cluster with one live stream `demo` on `originUrl` (`extra`: e.g. `{ lowLatency: true }`). */
export function clusterWith(originUrl: string, extra: Partial<StreamInfo> = {}): MemoryClusterSource {
  const cluster = new MemoryClusterSource();
  cluster.putStream({ id: 'demo', state: 'live', originUrl, renditions: [], targetDuration: 2, ...extra });
  return cluster;
}

/** The announcement of a segment with these bytes. */
export function announce(rendition: string, file: string, body: Buffer): SegmentAnnouncement {
  return {
    streamId: 'demo',
    rendition,
    file,
    msn: Number.parseInt(file, 10) || 0,
    size: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    duration: 2,
    programDateTime: new Date().toISOString(),
  };
}
