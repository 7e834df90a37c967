// Failing owners: the next member fills from the origin, and the relays after it ask that member.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { clusterWith, FakeUpstream, get, metric, metrics, startRelay, waitFor } from './helpers.ts';
import { HOP, keyOwnedBy, member, nextFrom, relayAndFakePeer, serveEverywhere } from './ring-support.ts';

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
