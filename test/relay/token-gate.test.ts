import test from 'ava';
import { type ErrorCode, RingcastError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import type { LivePath } from '../../common/names.ts';
import { PlaybackGate } from '../../common/playback-gate.ts';
import { type MintRequest, mintToken, type PlaybackKey } from '../../common/playback-token.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import type { FillRequest } from '../../relay/filler.ts';
import { HopAuth, hopToken } from '../../relay/hop-auth.ts';
import { LiveRouter } from '../../relay/live-router.ts';
import { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { RequestGuard } from '../../relay/request-guard.ts';
import type { FastRequest } from '../../relay/request-head.ts';
import { SegmentCache } from '../../relay/segment-cache.ts';
import { ViewerTracker } from '../../relay/viewer-tracker.ts';

const NEW: PlaybackKey = { kid: 'k2', secret: 'the-new-key-secret-0123' };
const OLD: PlaybackKey = { kid: 'k1', secret: 'the-old-key-secret-0123' };
const RETIRED: PlaybackKey = { kid: 'k0', secret: 'a-retired-key-secret-01' };
/** The relay lists the new key first (it signs) and the old one until it is retired. */
const LISTED = [NEW, OLD];
const SOON = Math.floor(Date.now() / 1000) + 600;
const FILE = 'priv/720p/1764769000.m4s';

const tok = (req: Partial<MintRequest>, keys: PlaybackKey[] = [NEW]) =>
  mintToken(keys, { stream: 'priv', expiresAt: SOON, ...req });
const good = tok({});
const forged = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;

interface Case {
  name: string;
  path: string;
  hop?: boolean;
  /** The object is already complete in the cache. */
  cached?: boolean;
  want: { result: 'MISS' | 'HIT'; key: string } | { code: ErrorCode; reason?: string };
}

const cases: Case[] = [
  { name: 'good token', path: `/t/${good}/live/${FILE}`, want: { result: 'MISS', key: FILE } },
  {
    name: 'rotated key: the old one still listed',
    path: `/t/${tok({}, [OLD])}/live/${FILE}`,
    want: { result: 'MISS', key: FILE },
  },
  {
    name: 'retired key',
    path: `/t/${tok({}, [RETIRED])}/live/${FILE}`,
    want: { code: 'RC_TOKEN_INVALID', reason: 'token_unknown_key' },
  },
  {
    name: 'expired',
    path: `/t/${tok({ expiresAt: SOON - 1200 })}/live/${FILE}`,
    want: { code: 'RC_TOKEN_EXPIRED', reason: 'token_expired' },
  },
  {
    name: 'forged',
    path: `/t/${forged}/live/${FILE}`,
    want: { code: 'RC_TOKEN_INVALID', reason: 'token_forged' },
  },
  {
    name: 'another stream',
    path: `/t/${tok({ stream: 'other' })}/live/${FILE}`,
    want: { code: 'RC_TOKEN_INVALID', reason: 'token_forged' },
  },
  {
    name: 'malformed',
    path: `/t/not-a-token/live/${FILE}`,
    want: { code: 'RC_TOKEN_INVALID', reason: 'token_malformed' },
  },
  { name: 'none', path: `/live/${FILE}`, want: { code: 'RC_TOKEN_MISSING', reason: 'token_missing' } },
  {
    name: 'none, though the object is cached: refused before the lookup',
    path: `/live/${FILE}`,
    cached: true,
    want: { code: 'RC_TOKEN_MISSING', reason: 'token_missing' },
  },
  {
    name: 'bound to another network',
    path: `/t/${tok({ bind: { network: '10.0.0.0/8' } })}/live/${FILE}`,
    want: { code: 'RC_TOKEN_WRONG_CLIENT', reason: 'token_wrong_network' },
  },
  {
    name: "bound to the client's network",
    path: `/t/${tok({ bind: { network: '127.0.0.0/8' } })}/live/${FILE}`,
    want: { result: 'MISS', key: FILE },
  },
  { name: 'a hop needs no token', path: `/live/${FILE}`, hop: true, want: { result: 'MISS', key: FILE } },
  {
    name: 'public stream, no token',
    path: '/live/pub/720p/1764769000.m4s',
    want: { result: 'MISS', key: 'pub/720p/1764769000.m4s' },
  },
  {
    name: 'public stream, a token (any) is ignored, not keyed',
    path: '/t/whatever/live/pub/720p/1764769000.m4s',
    want: { result: 'MISS', key: 'pub/720p/1764769000.m4s' },
  },
  {
    name: 'public stream, a token, cached: the same entry',
    path: `/t/${good}/live/pub/720p/1764769000.m4s`,
    cached: true,
    want: { result: 'HIT', key: 'pub/720p/1764769000.m4s' },
  },
  { name: 'token prefix without /live/', path: `/t/${good}/x/${FILE}`, want: { code: 'RC_BAD_PATH' } },
];

function setup() {
  const cluster = new MemoryClusterSource();
  const base = { state: 'live' as const, originUrl: 'http://o', renditions: [], targetDuration: 2 };
  cluster.putStream({ id: 'priv', ...base, private: true });
  cluster.putStream({ id: 'pub', ...base });
  const cache = new SegmentCache(1 << 20);
  const guard = new RequestGuard(silentLogger(), LISTED);
  const fills: string[] = [];
  const router = new LiveRouter({
    cluster,
    cache,
    hopAuth: new HopAuth('', silentLogger()),
    viewers: new ViewerTracker(),
    guard,
    filler: {
      start: (req: FillRequest, cached: boolean) => {
        fills.push(req.cacheKey);
        const entry = new CacheEntry(req.cacheKey, req.path);
        if (cached) cache.add(entry);
        return entry;
      },
      originLinkDown: () => false,
      toOrigin: () => false,
    },
    metrics: { requestCounts: { hit: 0, miss: 0, coalesced: 0 } },
  });
  return { cache, guard, fills, router };
}

function complete(cache: SegmentCache, key: string): void {
  const entry = new CacheEntry(key, {} as LivePath);
  cache.add(entry);
  entry.start(200, 1);
  entry.push(Buffer.from('x'));
  entry.complete('');
}

/** A viewer's GET from 127.0.0.1; only the path and the hop header vary. */
const VIEWER: FastRequest = {
  head: false,
  pathname: '',
  query: '',
  hop: undefined,
  onlyIfCached: false,
  session: () => 'session-1',
  address: () => '127.0.0.1',
};
const request = (c: Case): FastRequest => ({
  ...VIEWER,
  pathname: c.path,
  hop: c.hop ? hopToken('') : undefined,
});

for (const c of cases) {
  test(`token gate: ${c.name}`, (t) => {
    const s = setup();
    const key = 'key' in c.want ? c.want.key : FILE;
    if (c.cached) complete(s.cache, key);
    const before = s.cache.size;
    const got = s.router.route(request(c));
    if ('code' in c.want) {
      t.true(got instanceof RingcastError);
      t.is((got as RingcastError).code, c.want.code);
      t.is((got as RingcastError).status, c.want.code === 'RC_BAD_PATH' ? 400 : 403);
      t.deepEqual(s.fills, [], 'no upstream fetch');
      t.is(s.cache.size, before, 'nothing cached');
      if (c.want.reason) t.is(s.guard.refused[c.want.reason], 1);
      return;
    }
    if (got instanceof RingcastError) return t.fail(`${got.code}: ${got.message}`);
    t.is(got.result, c.want.result);
    t.is(got.entry.key, c.want.key, 'the token is not in the cache key');
    t.deepEqual(s.fills, c.want.result === 'MISS' ? [c.want.key] : []);
  });
}

test('gate: a verdict is kept until the token expires, then refused', (t) => {
  const gate = new PlaybackGate(LISTED, silentLogger());
  const token = mintToken(LISTED, { stream: 'priv', expiresAt: 1000 });
  const req = { token, stream: 'priv', address: '127.0.0.1' };
  t.is(gate.check(req, 999_000), undefined);
  t.is(gate.check(req, 999_500), undefined);
  t.is(gate.check(req, 1_000_000)?.code, 'RC_TOKEN_EXPIRED');
  t.is(gate.check({ ...req, stream: 'other' }, 999_000)?.code, 'RC_TOKEN_INVALID');
  t.deepEqual({ expired: gate.refused.expired, forged: gate.refused.forged }, { expired: 1, forged: 1 });
});

test('gate: one log line per refusal kind and address, never the token', (t) => {
  const lines: unknown[] = [];
  const log = { ...silentLogger(), info: (o: unknown) => lines.push(o) } as unknown as ReturnType<
    typeof silentLogger
  >;
  const gate = new PlaybackGate(LISTED, log);
  for (let i = 0; i < 5; i++) gate.check({ token: forged, stream: 'priv', address: '10.0.0.1' });
  gate.check({ token: forged, stream: 'priv', address: '10.0.0.2' });
  gate.check({ token: undefined, stream: 'priv', address: '10.0.0.1' });
  t.is(lines.length, 3);
  t.false(JSON.stringify(lines).includes(forged.split('.')[3]!));
  t.is(gate.refused.forged, 6);
});
