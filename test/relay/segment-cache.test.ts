import test from 'ava';
import { RingcastError } from '../../common/errors.ts';
import { parseLivePath } from '../../common/names.ts';
import { CacheEntry } from '../../relay/cache-entry.ts';
import { etagMatches, parseRange } from '../../relay/request-head.ts';
import { SegmentCache } from '../../relay/segment-cache.ts';

function entry(cache: SegmentCache, n: number, bytes: number): CacheEntry {
  const e = new CacheEntry(`demo/720p/${n}.m4s`, parseLivePath(`/live/demo/720p/${n}.m4s`));
  cache.add(e);
  e.start(200, bytes);
  e.push(Buffer.alloc(bytes));
  e.complete('00');
  return e;
}

test('evicts least recently used entries to hold the byte budget', (t) => {
  const cache = new SegmentCache(300);
  entry(cache, 1, 100);
  entry(cache, 2, 100);
  entry(cache, 3, 100);
  t.truthy(cache.get('demo/720p/1.m4s', 0)); // 1 is now the youngest
  entry(cache, 4, 100);
  t.is(cache.bytes, 300);
  t.falsy(cache.get('demo/720p/2.m4s', 0));
  t.truthy(cache.get('demo/720p/1.m4s', 0));
});

test('repeated lookups of one key keep the order exact (the youngest entry is not moved again)', (t) => {
  const cache = new SegmentCache(300);
  entry(cache, 1, 100);
  entry(cache, 2, 100);
  entry(cache, 3, 100);
  const get = (n: number) => t.truthy(cache.get(`demo/720p/${n}.m4s`, 0));
  // Oldest to youngest after these: 3, 1, 2.
  for (const n of [3, 3, 1, 1, 2, 2]) get(n);
  entry(cache, 4, 100);
  t.falsy(cache.get('demo/720p/3.m4s', 0));
  // Now 1, 2, 4; asking for 4 (the youngest) twice, then 1, leaves 2 the oldest.
  for (const n of [4, 4, 1]) get(n);
  entry(cache, 5, 100);
  t.falsy(cache.get('demo/720p/2.m4s', 0));
  // 1 is asked for (now youngest) and removed; 4, asked for again after 6 comes, moves behind 6.
  cache.remove(cache.get('demo/720p/1.m4s', 0)!);
  entry(cache, 6, 100);
  get(4);
  entry(cache, 7, 100);
  t.falsy(cache.get('demo/720p/5.m4s', 0));
  t.is(cache.bytes, 300);
  // 6, 4, 7: asking for 6 makes it the youngest, so 7 (the youngest before) must move when asked for.
  for (const n of [6, 7]) get(n);
  entry(cache, 8, 100);
  entry(cache, 9, 100);
  t.truthy(cache.get('demo/720p/7.m4s', 0));
  t.falsy(cache.get('demo/720p/6.m4s', 0));
});

test('pinned and filling entries are never evicted; the budget returns once they are released', (t) => {
  const cache = new SegmentCache(200);
  const pinned = entry(cache, 1, 150);
  cache.pin(pinned);
  const filling = new CacheEntry('demo/720p/2.m4s', parseLivePath('/live/demo/720p/2.m4s'));
  cache.add(filling);
  cache.pin(filling);
  filling.start(200, 150);
  filling.push(Buffer.alloc(150));
  t.is(cache.bytes, 300);
  t.is(cache.size, 2);
  cache.unpin(pinned);
  t.is(cache.bytes, 150);
  t.falsy(cache.get('demo/720p/1.m4s', 0));
  t.truthy(cache.get('demo/720p/2.m4s', 0));
});

test('an expired playlist is dropped on lookup', (t) => {
  const cache = new SegmentCache(1000);
  const e = new CacheEntry('demo/720p/index.m3u8', parseLivePath('/live/demo/720p/index.m3u8'));
  cache.add(e);
  e.start(200, 1);
  e.push(Buffer.from('x'));
  e.expiresAt = 100;
  e.complete('00');
  t.truthy(cache.get(e.key, 99));
  t.falsy(cache.get(e.key, 100));
  t.is(cache.bytes, 0);
});

test('a failed entry tells its listeners and keeps no bytes', (t) => {
  const e = new CacheEntry('k', parseLivePath('/live/demo/720p/1.m4s'));
  const seen: string[] = [];
  e.subscribe({
    onStart: () => seen.push('start'),
    onData: () => seen.push('data'),
    onEnd: () => seen.push('end'),
    onError: (err) => seen.push(err.code),
  });
  e.start(200, 10);
  e.push(Buffer.alloc(5));
  e.fail(new RingcastError('RC_UPSTREAM_FAILED'));
  t.deepEqual(seen, ['start', 'data', 'RC_UPSTREAM_FAILED']);
  t.is(e.state, 'failed');
  t.deepEqual(e.received(), []);
});

test('range and ETag parsing', (t) => {
  t.deepEqual(parseRange('bytes=0-9', 100), [0, 9]);
  t.deepEqual(parseRange('bytes=90-200', 100), [90, 99]);
  t.deepEqual(parseRange('bytes=-10', 100), [90, 99]);
  t.is(parseRange('bytes=100-', 100), 'unsatisfiable');
  t.is(parseRange('bytes=0-1,5-6', 100), undefined);
  t.is(parseRange('items=0-1', 100), undefined);
  t.true(etagMatches('W/"a", "b"', '"b"'));
  t.true(etagMatches('*', '"b"'));
  t.false(etagMatches('"a"', '"b"'));
});

test('over budget, expired and other short-lived entries leave before segments, whatever the LRU order', (t) => {
  const cache = new SegmentCache(400);
  const seg1 = entry(cache, 1, 100);
  const seg2 = entry(cache, 2, 100);
  const playlist = new CacheEntry('demo/720p/index.m3u8', parseLivePath('/live/demo/720p/index.m3u8'));
  cache.add(playlist);
  playlist.start(200, 100);
  playlist.push(Buffer.alloc(100));
  playlist.complete('00');
  cache.expire(playlist, Date.now() + 60_000);
  // The segments are now the least recently used; the playlist must still go first.
  t.truthy(cache.get('demo/720p/index.m3u8', 0));
  entry(cache, 3, 100);
  entry(cache, 4, 100);
  t.falsy(cache.get('demo/720p/index.m3u8', 0));
  t.is(cache.get(seg1.key, 0), seg1);
  t.is(cache.get(seg2.key, 0), seg2);
  t.is(cache.bytes, 400);
});

test('expired entries are swept without being read', (t) => {
  const cache = new SegmentCache(1000);
  const old = entry(cache, 1, 100);
  cache.expire(old, Date.now() - 1);
  entry(cache, 2, 100);
  t.is(cache.bytes, 100, 'dropped when the next entry came');
  const soon = entry(cache, 3, 100);
  cache.expire(soon, 5);
  cache.sweep(10, true);
  t.is(cache.size, 1);
});
