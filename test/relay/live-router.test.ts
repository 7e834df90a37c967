import test from 'ava';
import { type ErrorCode, RingcastError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import type { LivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import type { FastRequest } from '../../relay/fast-http.ts';
import type { FillRequest } from '../../relay/filler.ts';
import { HopAuth, hopToken } from '../../relay/hop-auth.ts';
import { LiveRouter } from '../../relay/live-router.ts';
import { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { SegmentCache } from '../../relay/segment-cache.ts';
import { ViewerTracker } from '../../relay/viewer-tracker.ts';

/** What the cache holds under the key asked for before the request. */
type Held = 'none' | 'complete' | 'pending' | 'pending-origin-only';

interface Case {
  name: string;
  path: string;
  query?: string;
  hop?: string;
  onlyIfCached?: boolean;
  held?: Held;
  /** The cached key, when not the path's own (an LL-HLS blocking reload). */
  heldKey?: string;
  linkDown?: boolean;
  /** What filler.toOrigin answers (a fill on a peer it may give up). */
  toOrigin?: boolean;
  want:
    | { result: 'HIT' | 'MISS' | 'COALESCED'; fills?: [string, boolean][]; viewers: number }
    | { code: ErrorCode };
}

const HOP = hopToken('');
const SEG = '/live/demo/720p/1764769000.m4s';

const cases: Case[] = [
  { name: 'bad path', path: '/live/demo/../etc/passwd', want: { code: 'RC_BAD_PATH' } },
  { name: 'unknown stream', path: '/live/nope/720p/1.m4s', want: { code: 'RC_STREAM_NOT_FOUND' } },
  {
    name: 'miss: one fill, cached, a viewer counted',
    path: SEG,
    want: { result: 'MISS', fills: [['demo/720p/1764769000.m4s', true]], viewers: 1 },
  },
  { name: 'hit', path: SEG, held: 'complete', want: { result: 'HIT', viewers: 1 } },
  {
    name: 'viewer joins a running fill',
    path: SEG,
    held: 'pending',
    want: { result: 'COALESCED', viewers: 1 },
  },
  {
    name: 'hop joins a fill that has moved on to the origin',
    path: SEG,
    hop: HOP,
    held: 'pending',
    toOrigin: true,
    want: { result: 'COALESCED', viewers: 0 },
  },
  {
    name: 'hop on a fill stuck on a peer it cannot give up: a fill of its own',
    path: SEG,
    hop: HOP,
    held: 'pending',
    want: { result: 'MISS', fills: [['demo/720p/1764769000.m4s', false]], viewers: 0 },
  },
  {
    name: 'hop on an origin-only fill joins it',
    path: SEG,
    hop: HOP,
    held: 'pending-origin-only',
    want: { result: 'COALESCED', viewers: 0 },
  },
  {
    name: 'hop while the origin link is down: a fill of its own',
    path: SEG,
    hop: HOP,
    held: 'pending-origin-only',
    linkDown: true,
    want: { result: 'MISS', fills: [['demo/720p/1764769000.m4s', false]], viewers: 0 },
  },
  {
    name: 'forged hop token: a viewer, joins the fill',
    path: SEG,
    hop: 'forged',
    held: 'pending',
    want: { result: 'COALESCED', viewers: 1 },
  },
  { name: 'only-if-cached, none', path: SEG, onlyIfCached: true, want: { code: 'RC_NOT_CACHED' } },
  {
    name: 'only-if-cached, filling',
    path: SEG,
    onlyIfCached: true,
    held: 'pending',
    want: { code: 'RC_NOT_CACHED' },
  },
  {
    name: 'only-if-cached, complete',
    path: SEG,
    onlyIfCached: true,
    held: 'complete',
    want: { result: 'HIT', viewers: 1 },
  },
  {
    name: 'refused by the live-window guard: no fill',
    path: '/live/demo/720p/9.m4s',
    want: { code: 'RC_NOT_FOUND' },
  },
];

function setup(c: Case) {
  const cluster = new MemoryClusterSource();
  cluster.putStream({ id: 'demo', state: 'live', originUrl: 'http://o', renditions: [], targetDuration: 2 });
  cluster.putStream({
    id: 'll',
    state: 'live',
    originUrl: 'http://o',
    renditions: [],
    targetDuration: 2,
    lowLatency: true,
  });
  const cache = new SegmentCache(1 << 20);
  const viewers = new ViewerTracker();
  const fills: [string, boolean][] = [];
  const requestCounts = { hit: 0, miss: 0, coalesced: 0 };
  const router = new LiveRouter({
    cluster,
    cache,
    hopAuth: new HopAuth('', silentLogger()),
    viewers,
    guard: {
      check: (path: LivePath) => (path.file === '9.m4s' ? new RingcastError('RC_NOT_FOUND') : undefined),
      admit: () => undefined,
    },
    filler: {
      start: (req: FillRequest, cached: boolean) => {
        fills.push([req.cacheKey, cached]);
        const entry = new CacheEntry(req.cacheKey, req.path);
        if (cached) cache.add(entry);
        return entry;
      },
      originLinkDown: () => c.linkDown === true,
      toOrigin: () => c.toOrigin === true,
    },
    metrics: { requestCounts },
  });
  return { cluster, cache, viewers, fills, requestCounts, router };
}

function hold(cache: SegmentCache, key: string, held: Held): void {
  if (held === 'none') return;
  const entry = new CacheEntry(key, {} as LivePath);
  cache.add(entry);
  if (held === 'pending-origin-only') entry.originOnly = true;
  if (held !== 'complete') return;
  entry.start(200, 1);
  entry.push(Buffer.from('x'));
  entry.complete('');
}

const request = (c: Case): FastRequest => ({
  head: false,
  pathname: c.path,
  query: c.query ?? '',
  hop: c.hop,
  onlyIfCached: c.onlyIfCached === true,
  session: () => 'session-1',
  address: () => '127.0.0.1',
});

for (const c of cases) {
  test(`route: ${c.name}`, (t) => {
    const s = setup(c);
    hold(s.cache, c.heldKey ?? c.path.slice('/live/'.length), c.held ?? 'none');
    const got = s.router.route(request(c));
    if ('code' in c.want) {
      t.true(got instanceof RingcastError);
      t.is((got as RingcastError).code, c.want.code);
      t.deepEqual(s.fills, []);
      return;
    }
    if (got instanceof RingcastError) return t.fail(`${got.code}: ${got.message}`);
    t.is(got.result, c.want.result);
    t.deepEqual(s.fills, c.want.fills ?? []);
    t.is(s.viewers.total(Date.now()), c.want.viewers);
    t.is(s.requestCounts[got.result === 'HIT' ? 'hit' : got.result === 'MISS' ? 'miss' : 'coalesced'], 1);
  });
}

// Playlist requests (`<stream>?<query>` of `/live/<stream>/720p/index.m3u8`) → the query part of the
// cache key, or the error: LL-HLS blocking parameters key (canonically) and are forwarded on LL streams only.
const PLAYLIST_KEYS: Record<string, string> = {
  'll?_HLS_part=01&x=1&_HLS_msn=7': '?_HLS_msn=7&_HLS_part=1',
  'll?_HLS_msn=07&_HLS_skip=YES': '?_HLS_msn=7&_HLS_skip=YES',
  'll?session=abc': '',
  'll?_HLS_msn=x': 'RC_BAD_REQUEST',
  'll?_HLS_skip=NO': 'RC_BAD_REQUEST',
  'demo?_HLS_msn=7': '',
  'demo?_HLS_msn=x': '',
};

for (const [request_, want] of Object.entries(PLAYLIST_KEYS)) {
  test(`route: the playlist request ${request_} is keyed ${want || 'without a query'}`, (t) => {
    const [stream, query] = request_.split('?') as [string, string];
    const c: Case = {
      name: '',
      path: `/live/${stream}/720p/index.m3u8`,
      query,
      want: { code: 'RC_INTERNAL' },
    };
    const s = setup(c);
    const got = s.router.route(request(c));
    if (got instanceof RingcastError) return t.is(got.code as string, want);
    t.deepEqual(s.fills, [[`${stream}/720p/index.m3u8${want}`, true]]);
    // The same request again joins the fill under that key.
    t.is((s.router.route(request(c)) as { result: string }).result, 'COALESCED');
  });
}

test('route: a parsed path is reused, and the same answer comes back', (t) => {
  const s = setup(cases[2]!);
  const first = s.router.route(request(cases[2]!));
  const second = s.router.route(request(cases[2]!));
  t.false(first instanceof RingcastError);
  t.false(second instanceof RingcastError);
  t.is((second as { result: string }).result, 'COALESCED');
});
