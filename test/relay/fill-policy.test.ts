import test from 'ava';
import { type LivePath, parseLivePath } from '../../common/names.ts';
import { HOP_HEADER } from '../../common/types.ts';
import {
  initDigest,
  notFoundTtlMs,
  playlistTtlMs,
  upstreamCall,
  upstreamTimeouts,
} from '../../relay/fill-policy.ts';
import { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { relayConfig } from './helpers.ts';

const path = (rel: string): LivePath => parseLivePath(`/live/${rel}`);

/** A cluster that knows stream `demo` with this target duration (none: unknown stream). */
function cluster(targetDuration?: number): MemoryClusterSource {
  const c = new MemoryClusterSource();
  if (targetDuration !== undefined)
    c.putStream({ id: 'demo', state: 'live', originUrl: 'http://o', renditions: [], targetDuration });
  return c;
}

test('init digests come from names of the form init-<8 hex>.mp4 only', (t) => {
  for (const [file, prefix] of [
    ['init-1a2b3c4d.mp4', '1a2b3c4d'],
    ['init-1A2B3C4D.mp4', undefined],
    ['init-1a2b3c4.mp4', undefined],
    ['init.mp4', undefined],
    ['init-1a2b3c4d.mp4.bak', undefined],
    ['7.m4s', undefined],
  ] as const)
    t.deepEqual(initDigest(file), prefix ? { sha256Prefix: prefix } : undefined, file);
});

test('upstream timeouts: blocking requests wait longer, never past the origin hold plus a second', (t) => {
  const config = relayConfig({
    connectTimeoutMs: 100,
    firstByteTimeoutMs: 3000,
    idleTimeoutMs: 500,
    blockingTimeoutMs: 10_000,
  });
  const stream = (targetDuration?: number) => ({
    id: 'demo',
    state: 'live' as const,
    originUrl: 'http://o',
    renditions: [],
    targetDuration,
  });
  const cases: { name: string; rel: string; query: string; target?: number; firstByte: number }[] = [
    { name: 'a segment', rel: 'demo/720p/7.m4s', query: '', target: 2, firstByte: 3000 },
    { name: 'a playlist', rel: 'demo/720p/index.m3u8', query: '', target: 2, firstByte: 3000 },
    {
      name: 'a blocking reload',
      rel: 'demo/720p/index.m3u8',
      query: '?_HLS_msn=8',
      target: 2,
      firstByte: 7000,
    },
    { name: 'a part', rel: 'demo/720p/7.2.m4s', query: '', target: 2, firstByte: 7000 },
    { name: 'a long target', rel: 'demo/720p/7.2.m4s', query: '', target: 6, firstByte: 10_000 },
    { name: 'no target known', rel: 'demo/720p/7.2.m4s', query: '', firstByte: 10_000 },
  ];
  for (const c of cases) {
    const got = upstreamTimeouts(config, { path: path(c.rel), query: c.query, stream: stream(c.target) });
    t.deepEqual(got, { connectTimeoutMs: 100, firstByteTimeoutMs: c.firstByte, idleTimeoutMs: 500 }, c.name);
  }
});

test("the origin's 404 is kept a quarter target duration, at most 1 s; parts 200 ms", (t) => {
  const cases: { rel: string; target?: number; ms: number }[] = [
    { rel: 'demo/720p/7.m4s', target: 2, ms: 500 },
    { rel: 'demo/720p/7.m4s', target: 1, ms: 250 },
    { rel: 'demo/720p/7.m4s', target: 6, ms: 1000 },
    { rel: 'demo/720p/7.m4s', ms: 1000 },
    { rel: 'demo/720p/7.1.m4s', target: 2, ms: 200 },
  ];
  for (const c of cases) t.is(notFoundTtlMs(path(c.rel), cluster(c.target)), c.ms, JSON.stringify(c));
});

test('playlists are kept the configured age, under half the target duration', (t) => {
  const cases: { maxAge: number; target?: number; ms: number }[] = [
    { maxAge: 500, target: 2, ms: 500 },
    { maxAge: 5000, target: 2, ms: 999 },
    { maxAge: 5000, ms: 5000 },
    { maxAge: 500, target: 0.001, ms: 0 },
  ];
  for (const c of cases) t.is(playlistTtlMs(c.maxAge, cluster(c.target), 'demo'), c.ms, JSON.stringify(c));
});

test('an upstream call: the hop token to peers only, the query forwarded, half the cache at most', (t) => {
  const config = relayConfig({ cacheBytes: 2 * 1048576 + 1 });
  const stream = {
    id: 'demo',
    state: 'live' as const,
    originUrl: 'http://o',
    renditions: [],
    targetDuration: 2,
  };
  const req = { path: path('demo/720p/index.m3u8'), query: '?_HLS_msn=8', stream };
  const toOrigin = upstreamCall({ kind: 'origin', id: 'origin', base: 'http://o:1' }, req, config, 'tok');
  t.is(toOrigin.url, 'http://o:1/live/demo/720p/index.m3u8?_HLS_msn=8');
  t.deepEqual(toOrigin.headers, { 'user-agent': 'ringcast-relay' });
  t.is(toOrigin.maxBytes, 1048576);
  t.deepEqual(toOrigin.timeouts, upstreamTimeouts(config, req));
  const toPeer = upstreamCall({ kind: 'peer', id: 'r2', base: 'http://r2:2' }, req, config, 'tok');
  t.is(toPeer.url, 'http://r2:2/live/demo/720p/index.m3u8?_HLS_msn=8');
  t.deepEqual(toPeer.headers, { 'user-agent': 'ringcast-relay', [HOP_HEADER]: 'tok' });
});
