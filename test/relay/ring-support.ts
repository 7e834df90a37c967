// Shared by the relay ring tests (relay-ring*.test.ts): ring members, keys with a chosen owner, relays.
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import type { RelayInfo } from '../../common/types.ts';
import { hopToken } from '../../relay/hop-auth.ts';
import type { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { announce, clusterWith, FakeUpstream, startRelay } from './helpers.ts';

/** What ring members send as `X-Ringcast-Hop` (the test relays have no cluster secret). */
export const HOP = hopToken('');

export const member = (id: string, url: string): RelayInfo => ({ id, url, capacity: 1, state: 'active' });

/** The first segment path (`demo/720p/N.m4s`) whose ring owner is `ownerId`. */
export function keyOwnedBy(cluster: MemoryClusterSource, ownerId: string, from = 0): string {
  for (let n = from; n < from + 1000; n++) {
    const key = `demo/720p/${n}.m4s`;
    if (cluster.ring().owner(key)?.id === ownerId) return key;
  }
  throw new Error(`no key owned by ${ownerId}`);
}

/** One real relay `relay-b` and a fake peer that owns part of the ring. */
export async function relayAndFakePeer(t: ExecutionContext, peerUrl?: string) {
  const origin = await new FakeUpstream().start();
  const peer = await new FakeUpstream().start();
  const cluster = clusterWith(origin.url);
  const b = await startRelay(cluster, { id: 'relay-b' });
  t.teardown(() => Promise.all([b.relay.close(), origin.close(), peer.close()]));
  cluster.setRing({ version: 1, relays: [member('peer', peerUrl ?? peer.url), member(b.id, b.url)] });
  return { origin, peer, cluster, b };
}

/** Announces `demo/<rendition>/<file>` with `body`: relays verify, and only then take, a peer's segment. */
export function announceKey(
  cluster: { addSegment: (a: ReturnType<typeof announce>) => void },
  key: string,
  body: Buffer,
) {
  const [, rendition, file] = key.split('/');
  cluster.addSegment(announce(rendition!, file!, body));
}

/** The segment number after `key`'s (`demo/720p/N.m4s`): where the search for the next key starts. */
export const nextFrom = (key: string): number => Number.parseInt(key.split('/')[2]!, 10) + 1;

/** The same random body on every upstream given, announced; returns the body. */
export function serveEverywhere(
  cluster: { addSegment: (a: ReturnType<typeof announce>) => void },
  key: string,
  ...upstreams: FakeUpstream[]
): Buffer {
  const body = randomBytes(3000);
  for (const u of upstreams) u.objects.set(key, body);
  announceKey(cluster, key, body);
  return body;
}

/**
 * Relays A and B on one ring, A reaching the origin through a link that accepts and never answers
 * (a hung link), B through a working one. `stage(n)` makes n keys owned by A: hung on A's link,
 * served by the origin; `publish(key)` announces one (A then may take it from B, and prefetches it).
 */
export async function hungLinkPair(t: ExecutionContext, originBreakerMs: number) {
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
