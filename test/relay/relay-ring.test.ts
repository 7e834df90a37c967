// The ring's fill order: owner, peers, origin; verification of peer bytes; prefetching.
import { createHash, randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { Ring } from '../../common/ring.ts';
import { announce, clusterWith, FakeUpstream, get, metric, metrics, startRelay, waitFor } from './helpers.ts';
import { announceKey, HOP, keyOwnedBy, member, nextFrom, relayAndFakePeer } from './ring-support.ts';

async function twoRelays(t: ExecutionContext) {
  const origin = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const a = await startRelay(cluster, { id: 'relay-a' });
  const b = await startRelay(cluster, { id: 'relay-b' });
  t.teardown(() => Promise.all([a.relay.close(), b.relay.close(), origin.close()]));
  cluster.setRing({ version: 1, relays: [member(a.id, a.url), member(b.id, b.url)] });
  return { origin, cluster, a, b };
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
