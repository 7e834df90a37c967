import test from 'ava';
import { awaitAnnouncement } from '../../relay/cluster-source.ts';
import { MemoryClusterSource } from '../../relay/memory-cluster-source.ts';
import { announce } from './helpers.ts';

test('an announcement is awaited as an event: known, arriving, never, or the wait aborted', async (t) => {
  // The wait's timer does not hold the process (a relay's server does): this test holds it.
  const hold = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(hold));
  const cluster = new MemoryClusterSource();
  const body = Buffer.from('segment');
  const wait = (file: string, signal = new AbortController().signal, timeoutMs = 5000) =>
    awaitAnnouncement(cluster, { streamId: 'demo', rendition: '720p', file, timeoutMs, signal });
  cluster.addSegment(announce('720p', '1.m4s', body));
  t.is((await wait('1.m4s'))?.file, '1.m4s', 'known already');
  const arriving = wait('2.m4s');
  cluster.addSegment(announce('360p', '2.m4s', body));
  cluster.addSegment(announce('720p', '3.m4s', body));
  cluster.addSegment(announce('720p', '2.m4s', body));
  const got = await arriving;
  t.is(got?.rendition, '720p');
  t.is(got?.file, '2.m4s');
  t.is(await wait('4.m4s', undefined, 30), undefined, 'timed out');
  const ac = new AbortController();
  const aborted = wait('5.m4s', ac.signal);
  ac.abort();
  t.is(await aborted, undefined, 'aborted');
  const already = new AbortController();
  already.abort();
  t.is(await wait('6.m4s', already.signal), undefined, 'aborted before');
  // Every wait unsubscribed: a later event reaches no stale listener.
  let listeners = 0;
  const count = cluster.onChange(() => listeners++);
  cluster.addSegment(announce('720p', '7.m4s', body));
  count();
  t.is(listeners, 1);
});
