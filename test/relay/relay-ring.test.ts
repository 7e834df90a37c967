import { createHash, randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Ring } from '../../common/ring.ts';
import type { RelayInfo } from '../../common/types.ts';
import { hopToken } from '../../relay/hop-auth.ts';
import type { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { announce, clusterWith, FakeUpstream, get, metric, metrics, startRelay, waitFor } from './helpers.ts';

/** What ring members send as `X-Ringcast-Hop` (the test relays have no cluster secret). */
const HOP = hopToken('');

const member = (id: string, url: string): RelayInfo => ({ id, url, capacity: 1, state: 'active' });

/** The first segment path (`demo/720p/N.m4s`) whose ring owner is `ownerId`. */
function keyOwnedBy(cluster: MemoryClusterSource, ownerId: string, from = 0): string {
  for (let n = from; n < from + 1000; n++) {
    const key = `demo/720p/${n}.m4s`;
    if (cluster.ring().owner(key)?.id === ownerId) return key;
  }
  throw new Error(`no key owned by ${ownerId}`);
}

async function twoRelays(t: ExecutionContext) {
  const origin = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const a = await startRelay(cluster, { id: 'relay-a' });
  const b = await startRelay(cluster, { id: 'relay-b' });
  t.teardown(() => Promise.all([a.relay.close(), b.relay.close(), origin.close()]));
  cluster.setRing({ version: 1, relays: [member(a.id, a.url), member(b.id, b.url)] });
  return { origin, cluster, a, b };
}

/** One real relay `relay-b` and a fake peer that owns part of the ring. */
async function relayAndFakePeer(t: ExecutionContext, peerUrl?: string) {
  const origin = await new FakeUpstream().start();
  const peer = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const b = await startRelay(cluster, { id: 'relay-b' });
  t.teardown(() => Promise.all([b.relay.close(), origin.close(), peer.close()]));
  cluster.setRing({ version: 1, relays: [member('peer', peerUrl ?? peer.url), member(b.id, b.url)] });
  return { origin, peer, cluster, b };
}

/** Announces `demo/<rendition>/<file>` with `body`: relays verify, and only then take, a peer's segment. */
function announceKey(
  cluster: { addSegment: (a: ReturnType<typeof announce>) => void },
  key: string,
  body: Buffer,
) {
  const [, rendition, file] = key.split('/');
  cluster.addSegment(announce(rendition!, file!, body));
}

/** The segment number after `key`'s (`demo/720p/N.m4s`): where the search for the next key starts. */
const nextFrom = (key: string): number => Number.parseInt(key.split('/')[2]!, 10) + 1;

/** The same random body on every upstream given, announced; returns the body. */
function serveEverywhere(
  cluster: { addSegment: (a: ReturnType<typeof announce>) => void },
  key: string,
  ...upstreams: FakeUpstream[]
): Buffer {
  const body = randomBytes(3000);
  for (const u of upstreams) u.objects.set(key, body);
  announceKey(cluster, key, body);
  return body;
}

test('a non-owner fills from the owner; the origin sees one request', async (t) => {
  const { origin, cluster, a, b } = await twoRelays(t);
  const key = keyOwnedBy(cluster, 'relay-a');
  const body = randomBytes(50_000);
  origin.objects.set(key, body);
  announceKey(cluster, key, body);
  const viaB = await get(`${b.url}/live/${key}`);
  t.is(viaB.status, 200);
  t.true(viaB.body.equals(body));
  t.is(viaB.headers['x-ringcast-relay'], 'relay-b');
  const viaA = await get(`${a.url}/live/${key}`);
  t.is(viaA.headers['x-ringcast-cache'], 'HIT');
  t.true(viaA.body.equals(body));
  t.is(origin.count(key), 1);
  t.deepEqual(origin.hopHeaders, [undefined]);
  const mb = await metrics(b.url);
  t.is(metric(mb, 'ringcast_relay_upstream_fetches_total', 'source="peer",outcome="ok"'), 1);
  t.is(metric(mb, 'ringcast_relay_upstream_fetches_total', 'source="origin",outcome="ok"'), 0);
  const ma = await metrics(a.url);
  t.is(metric(ma, 'ringcast_relay_upstream_fetches_total', 'source="origin",outcome="ok"'), 1);
});

test('the owner fills from the origin directly', async (t) => {
  const { origin, cluster, a } = await twoRelays(t);
  const key = keyOwnedBy(cluster, 'relay-a');
  origin.objects.set(key, randomBytes(1000));
  t.is((await get(`${a.url}/live/${key}`)).status, 200);
  t.is(origin.count(key), 1);
});

test('a request with X-Ringcast-Hop: 1 goes to the origin, never to a peer', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const key = keyOwnedBy(cluster, 'peer');
  const body = randomBytes(2000);
  origin.objects.set(key, body);
  peer.objects.set(key, body);
  const got = await get(`${b.url}/live/${key}`, { 'x-ringcast-hop': HOP });
  t.true(got.body.equals(body));
  t.is(peer.total(), 0);
  t.is(origin.count(key), 1);
  // Without the header the same relay asks the owner, marking the request as a hop.
  const other = keyOwnedBy(cluster, 'peer', nextFrom(key));
  peer.objects.set(other, body);
  announceKey(cluster, other, body);
  await get(`${b.url}/live/${other}`);
  t.is(peer.count(other), 1);
  t.deepEqual(peer.hopHeaders, [HOP]);
  t.is(origin.count(other), 0);
});

test('a peer serving corrupt bytes is dropped and the origin is used', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const key = keyOwnedBy(cluster, 'peer');
  const [, rendition, file] = key.split('/') as [string, string, string];
  const good = randomBytes(20_000);
  const bad = Buffer.from(good);
  bad[100] ^= 0xff;
  origin.objects.set(key, good);
  peer.objects.set(key, bad);
  cluster.addSegment(announce(rendition, file, good));
  const got = await get(`${b.url}/live/${key}`);
  t.is(got.status, 200);
  t.true(got.body.equals(good));
  t.is(peer.count(key), 1);
  t.is(origin.count(key), 1);
  const m = await metrics(b.url);
  t.is(metric(m, 'ringcast_relay_verification_failures_total'), 1);
  t.is(metric(m, 'ringcast_relay_upstream_fetches_total', 'source="peer",outcome="mismatch"'), 1);
  // A peer with the wrong size is dropped too.
  const next = keyOwnedBy(cluster, 'peer', Number.parseInt(file, 10) + 1);
  const [, , nextFile] = next.split('/') as [string, string, string];
  origin.objects.set(next, good);
  peer.objects.set(next, good.subarray(1));
  cluster.addSegment(announce(rendition, nextFile, good));
  t.true((await get(`${b.url}/live/${next}`)).body.equals(good));
  t.is(metric(await metrics(b.url), 'ringcast_relay_verification_failures_total'), 2);
});

test('an init section from a peer must hash to the digest in its name, or the origin fills it', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  // An init section (named by its digest, as the origin names them) whose ring owner is the fake peer.
  let good = randomBytes(3000);
  let key = '';
  for (;;) {
    key = `demo/720p/init-${createHash('sha256').update(good).digest('hex').slice(0, 8)}.mp4`;
    if (cluster.ring().owner(key)?.id === 'peer') break;
    good = randomBytes(3000);
  }
  const bad = Buffer.from(good);
  bad[10] ^= 0xff;
  origin.objects.set(key, good);
  peer.objects.set(key, bad);
  const got = await get(`${b.url}/live/${key}`);
  t.is(got.status, 200);
  t.true(got.body.equals(good));
  t.is(peer.count(key), 1);
  t.is(origin.count(key), 1);
  t.is(metric(await metrics(b.url), 'ringcast_relay_verification_failures_total'), 1);
});

test('a dead owner is skipped for the origin', async (t) => {
  const { origin, cluster, b } = await relayAndFakePeer(t, 'http://127.0.0.1:1');
  const key = keyOwnedBy(cluster, 'peer');
  origin.objects.set(key, randomBytes(3000));
  const got = await get(`${b.url}/live/${key}`);
  t.is(got.status, 200);
  t.is(origin.count(key), 1);
});

test('the owner prefetches an announced segment; a relay with viewers prefetches from the owner', async (t) => {
  const { origin, cluster, a, b } = await twoRelays(t);
  const key = keyOwnedBy(cluster, 'relay-a');
  const [, rendition, file] = key.split('/') as [string, string, string];
  const body = randomBytes(5000);
  origin.objects.set(key, body);
  origin.objects.set(`demo/${rendition}/index.m3u8`, Buffer.from('#EXTM3U\n'));
  // relay-b has a viewer of this rendition.
  await get(`${b.url}/live/demo/${rendition}/index.m3u8`);
  const peerFills = async () =>
    metric(await metrics(b.url), 'ringcast_relay_upstream_fetches_total', 'source="peer",outcome="ok"');
  const before = await peerFills();
  cluster.addSegment(announce(rendition, file, body));
  await waitFor(async () => {
    const ma = JSON.parse((await get(`${a.url}/healthz`)).body.toString());
    const mb = JSON.parse((await get(`${b.url}/healthz`)).body.toString());
    return ma.cacheEntries >= 1 && mb.cacheEntries >= 2;
  });
  t.is(origin.count(key), 1);
  t.is((await get(`${a.url}/live/${key}`)).headers['x-ringcast-cache'], 'HIT');
  t.is((await get(`${b.url}/live/${key}`)).headers['x-ringcast-cache'], 'HIT');
  t.is((await peerFills()) - before, 1);
});

/** A key whose first three ring candidates are `ids`, in that order. */
function keyWithCandidates(cluster: MemoryClusterSource, ids: string[], from = 0): string {
  for (let n = from; n < from + 5000; n++) {
    const key = `demo/720p/${n}.m4s`;
    const got = cluster
      .ring()
      .candidates(key, ids.length)
      .map((r) => r.id);
    if (got.join() === ids.join()) return key;
  }
  throw new Error(`no key with candidates ${ids.join()}`);
}

test('after a failing owner the next member fills from the origin itself; the one after it asks that member first', async (t) => {
  const origin = await new FakeUpstream().start();
  const second = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const b = await startRelay(cluster, { id: 'relay-b' });
  t.teardown(() => Promise.all([b.relay.close(), origin.close(), second.close()]));
  // The owner refuses connections; the other fake member serves what it is asked.
  cluster.setRing({
    version: 1,
    relays: [member('dead', 'http://127.0.0.1:1'), member('other', second.url), member(b.id, b.url)],
  });
  // relay-b right after the owner: its own origin fetch, not a detour through a member after it.
  const next = keyWithCandidates(cluster, ['dead', 'relay-b', 'other']);
  serveEverywhere(cluster, next, origin, second);
  t.is((await get(`${b.url}/live/${next}`)).status, 200);
  t.is(second.count(next), 0);
  t.is(origin.count(next), 1);
  // relay-b after both: the member before it fills, the origin is not asked.
  const later = keyWithCandidates(cluster, ['dead', 'other', 'relay-b']);
  serveEverywhere(cluster, later, origin, second);
  t.is((await get(`${b.url}/live/${later}`)).status, 200);
  t.is(second.count(later), 1);
  t.is(origin.count(later), 0);
});

test('a hop request joins a fill that has moved on to the origin: one origin request for both', async (t) => {
  const { origin, cluster, b } = await relayAndFakePeer(t, 'http://127.0.0.1:1');
  const key = keyOwnedBy(cluster, 'peer');
  origin.objects.set(key, randomBytes(3000));
  origin.behaviour.set(key, 'held');
  // A viewer's miss: the (dead) owner first, then the origin, which holds the answer.
  const viewer = get(`${b.url}/live/${key}`);
  await waitFor(() => origin.count(key) === 1, 5000, 'the fill reached the origin');
  const hop = get(`${b.url}/live/${key}`, { 'x-ringcast-hop': HOP });
  await waitFor(
    async () => metric(await metrics(b.url), 'ringcast_relay_requests_total', 'cache="coalesced"') === 1,
    5000,
    'the hop request joined the fill',
  );
  origin.release();
  t.deepEqual([(await viewer).status, (await hop).status], [200, 200]);
  t.is(origin.count(key), 1);
});

test('ring helpers agree: candidates start with the owner', (t) => {
  const ring = new Ring({ version: 1, relays: [member('x', 'http://x'), member('y', 'http://y')] });
  t.is(ring.candidates('demo/720p/1.m4s')[0]!.id, ring.owner('demo/720p/1.m4s')!.id);
});

test('a peer 404 falls through to the origin, which has the last word', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const key = keyOwnedBy(cluster, 'peer');
  origin.objects.set(key, Buffer.from('fresh'));
  announceKey(cluster, key, Buffer.from('fresh'));
  const got = await get(`${b.url}/live/${key}`);
  t.is(got.body.toString(), 'fresh');
  t.is(peer.count(key), 1);
  const gone = keyOwnedBy(cluster, 'peer', nextFrom(key));
  t.is((await get(`${b.url}/live/${gone}`)).status, 404);
  t.is(origin.count(gone), 1);
});

test('a peer segment that is never announced is not taken unverified: the origin fills it', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const key = keyOwnedBy(cluster, 'peer');
  const good = randomBytes(3000);
  origin.objects.set(key, good);
  peer.objects.set(key, randomBytes(3000));
  const got = await get(`${b.url}/live/${key}`);
  t.true(got.body.equals(good));
  t.is(peer.count(key), 0);
  t.is(origin.count(key), 1);
});

/**
 * Relays A and B on one ring, A reaching the origin through a link that accepts and never answers
 * (a hung link), B through a working one. `stage(n)` makes n keys owned by A: hung on A's link,
 * served by the origin; `publish(key)` announces one (A then may take it from B, and prefetches it).
 */
async function hungLinkPair(t: ExecutionContext, originBreakerMs: number) {
  const origin = await new FakeUpstream().start();
  const hungLink = await new FakeUpstream().start();
  const clusterA = clusterWith(hungLink.url);
  const clusterB = clusterWith(origin.url);
  const a = await startRelay(clusterA, { id: 'relay-a', firstByteTimeoutMs: 300, originBreakerMs });
  const b = await startRelay(clusterB, { id: 'relay-b' });
  t.teardown(() => Promise.all([a.relay.close(), b.relay.close(), origin.close(), hungLink.close()]));
  const ring = { version: 1, relays: [member(a.id, a.url), member(b.id, b.url)] };
  clusterA.setRing(ring);
  clusterB.setRing(ring);
  const bodies = new Map<string, Buffer>();
  let next = 0;
  const stage = (n: number): string[] =>
    Array.from({ length: n }, () => {
      const key = keyOwnedBy(clusterA, 'relay-a', next);
      next = nextFrom(key);
      bodies.set(key, randomBytes(2000));
      hungLink.behaviour.set(key, 'hang');
      origin.objects.set(key, bodies.get(key)!);
      return key;
    });
  const publish = (key: string) => announceKey(clusterA, key, bodies.get(key)!);
  return { a, origin, hungLink, stage, publish };
}

test('a hop request for a fill waiting on a hung peer: the fill gives the peer up for the origin, both get it from one fetch', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const key = keyOwnedBy(cluster, 'peer');
  const body = serveEverywhere(cluster, key, origin, peer);
  peer.behaviour.set(key, 'hang');
  const started = Date.now();
  const viewer = get(`${b.url}/live/${key}`);
  await waitFor(() => peer.count(key) === 1, 5000, 'the fill asked the (hung) owner');
  const hop = await get(`${b.url}/live/${key}`, { 'x-ringcast-hop': HOP });
  t.is(hop.status, 200);
  t.true(hop.body.equals(body));
  const seen = await viewer;
  t.is(seen.status, 200);
  t.true(seen.body.equals(body));
  // Well within the first-byte timeout (3 s) the hung owner would have cost.
  t.true(Date.now() - started < 2500, `${Date.now() - started} ms`);
  t.is(origin.count(key), 1);
  t.is(
    metric(await metrics(b.url), 'ringcast_relay_upstream_fetches_total', 'source="peer",outcome="given_up"'),
    1,
  );
});

test('a peer that refuses a hop for lack of an origin link is skipped for a while; a plain 502 is not', async (t) => {
  const { origin, peer, cluster, b } = await relayAndFakePeer(t);
  const keys: string[] = [];
  for (let i = 0, from = 0; i < 4; i++) {
    const key = keyOwnedBy(cluster, 'peer', from);
    from = nextFrom(key);
    serveEverywhere(cluster, key, origin, peer);
    keys.push(key);
  }
  const [k1, k2, k3, k4] = keys as [string, string, string, string];
  const refused = async () =>
    metric(await metrics(b.url), 'ringcast_relay_upstream_fetches_total', 'source="peer",outcome="refused"');
  // A 502 about one object (the peer's origin answered 500, say): the next key still asks the peer.
  peer.behaviour.set(k1, '502');
  t.is((await get(`${b.url}/live/${k1}`)).status, 200);
  t.is(await refused(), 0);
  t.is((await get(`${b.url}/live/${k2}`)).status, 200);
  t.is(peer.count(k2), 1);
  // Refused for lack of an origin link: skipped, the next key goes past it at once.
  peer.behaviour.set(k3, 'refuse');
  t.is((await get(`${b.url}/live/${k3}`)).status, 200);
  t.is(await refused(), 1);
  t.is((await get(`${b.url}/live/${k4}`)).status, 200);
  t.is(peer.count(k4), 0);
  t.is(origin.count(k4), 1);
});

test('a failing origin link opens the breaker: owner fills try the next member first, hop requests fail at once, a probe closes it', async (t) => {
  const { a, origin, hungLink, stage, publish } = await hungLinkPair(t, 200);
  // The link's health probe hangs too, until the link is mended below.
  hungLink.behaviour.set('/healthz', 'hang');
  const linksDown = async () => metric(await metrics(a.url), 'ringcast_relay_origin_links_down');
  // Each key is announced only when the test gets to it: the announcement starts A's prefetch.
  const [k1, k2, k3, k4] = stage(4);
  // First fill: the hung origin costs the first-byte timeout, then the next member fills it.
  let started = Date.now();
  publish(k1!);
  t.is((await get(`${a.url}/live/${k1}`)).status, 200);
  t.true(Date.now() - started >= 300);
  t.is(await linksDown(), 1);
  // Breaker open: the next member first, no wait, the hung link untouched.
  started = Date.now();
  publish(k2!);
  const second = await get(`${a.url}/live/${k2}`);
  t.is(second.status, 200);
  t.true(Date.now() - started < 300, `${Date.now() - started} ms`);
  t.is(hungLink.count(k2!), 0);
  // A peer's hop request cannot be served from a failing link: refused at once.
  started = Date.now();
  const hop = await get(`${a.url}/live/${k3}`, { 'x-ringcast-hop': HOP });
  t.is(hop.status, 502);
  t.is(hop.headers['x-ringcast-error'], 'RC_ORIGIN_LINK_DOWN');
  t.true(Date.now() - started < 300);
  t.is(hungLink.count(k3!), 0);
  // Probes (every 200 ms, each waiting out its timeout) keep it open while the link hangs; no fill
  // is spent on testing the link.
  await waitFor(() => hungLink.count('/healthz') >= 2, 5000, 'a second probe');
  t.is(await linksDown(), 1);
  t.is(hungLink.count(k2!) + hungLink.count(k3!), 0);
  // The link answers again (with a redirect elsewhere, which the probe does not follow: any answer
  // will do): the next probe closes the breaker and the origin comes first again (k4 itself still
  // hangs there, so the next member serves it after the timeout).
  hungLink.redirectTo = `${origin.url}/healthz`;
  hungLink.behaviour.set('/healthz', 'redirect');
  await waitFor(async () => (await linksDown()) === 0, 5000, 'the breaker closed');
  t.is(origin.count('/healthz'), 0);
  publish(k4!);
  t.is((await get(`${a.url}/live/${k4}`)).status, 200);
  t.is(hungLink.count(k4!), 1);
});

test('an open breaker no fill wants any more (its stream moved to another origin) is dropped', async (t) => {
  const { a, hungLink, stage, publish } = await hungLinkPair(t, 100);
  hungLink.behaviour.set('/healthz', 'hang');
  const [k1] = stage(1) as [string];
  publish(k1);
  t.is((await get(`${a.url}/live/${k1}`)).status, 200);
  const linksDown = async () => metric(await metrics(a.url), 'ringcast_relay_origin_links_down');
  t.is(await linksDown(), 1);
  // Nothing asks for that origin again: after 30 probe waits (3 s here) the relay stops probing it.
  await waitFor(async () => (await linksDown()) === 0, 15_000, 'the unwanted breaker dropped');
  // It was dropped unanswered (every probe hung), not closed by an answer.
  t.true(hungLink.count('/healthz') >= 1);
});

test('the member right after a dead owner, its own origin link failing, asks the member after it', async (t) => {
  const hungLink = await new FakeUpstream().start();
  const after = await new FakeUpstream().start();
  const cluster = clusterWith(hungLink.url);
  const b = await startRelay(cluster, { id: 'relay-b', firstByteTimeoutMs: 300, originBreakerMs: 60_000 });
  t.teardown(() => Promise.all([b.relay.close(), hungLink.close(), after.close()]));
  cluster.setRing({
    version: 1,
    relays: [member('dead', 'http://127.0.0.1:1'), member(b.id, b.url), member('after', after.url)],
  });
  const first = keyWithCandidates(cluster, ['dead', 'relay-b', 'after']);
  hungLink.behaviour.set(first, 'hang');
  // The dead owner is refused, our origin link hangs: the breaker opens (this fill has nothing left).
  t.not((await get(`${b.url}/live/${first}`)).status, 200);
  t.is(metric(await metrics(b.url), 'ringcast_relay_origin_links_down'), 1);
  // Next key: the dead owner, then the member after us over its own link, as a hop.
  const key = keyWithCandidates(cluster, ['dead', 'relay-b', 'after'], nextFrom(first));
  const body = serveEverywhere(cluster, key, after);
  const got = await get(`${b.url}/live/${key}`);
  t.is(got.status, 200);
  t.true(got.body.equals(body));
  t.is(after.count(key), 1);
  t.is(hungLink.count(key), 0);
  t.is(after.hopHeaders.at(-1), HOP);
});

test.serial('timeouts that expire while the relay process was frozen do not open the breaker', async (t) => {
  const { a, hungLink, stage, publish } = await hungLinkPair(t, 60_000);
  const [k1, k2] = stage(2) as [string, string];
  publish(k1);
  publish(k2);
  // The announcement started A's prefetch of both keys from its (hung) origin link; freeze this
  // process (relays included) past the first-byte timeout, as SIGSTOP would. Serial: the freeze
  // would stop the other tests' relays too.
  await waitFor(() => hungLink.count(k1) === 1 && hungLink.count(k2) === 1, 5000, 'prefetches under way');
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    // busy: nothing else runs
  }
  t.is((await get(`${a.url}/live/${k1}`)).status, 200);
  // The breaker stayed closed: a new key is tried on the origin first again.
  const [k3] = stage(1) as [string];
  publish(k3);
  t.is((await get(`${a.url}/live/${k3}`)).status, 200);
  t.is(hungLink.count(k3), 1);
});
