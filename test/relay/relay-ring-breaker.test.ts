// Origin links that hang or fail: peers given up, hops refused, the per-origin breaker.
import test from 'ava';
import { get, metric, metrics, waitFor } from './helpers.ts';
import {
  HOP,
  hungLinkPair,
  keyOwnedBy,
  nextFrom,
  relayAndFakePeer,
  serveEverywhere,
} from './ring-support.ts';

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
