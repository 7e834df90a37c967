import test from 'ava';
import { silentLogger } from '../../common/log.ts';
import type { ClusterChange } from '../../relay/cluster-source.ts';
import { CoordinatorClient } from '../../relay/coordinator-client.ts';
import { FakeCoordinator } from './fake-coordinator.ts';
import { announce, waitFor } from './helpers.ts';

const stream = { id: 'demo', state: 'live' as const, originUrl: 'http://127.0.0.1:9', renditions: [] };

test('registers with the secret, heartbeats, follows events, re-registers after a 404', async (t) => {
  const coord = await new FakeCoordinator().start();
  coord.streams.push(stream);
  const client = new CoordinatorClient({
    coordinatorUrls: [coord.url],
    clusterSecret: 's3cret',
    heartbeatIntervalMs: 50,
    log: silentLogger(),
    load: () => ({ viewers: 2, cacheBytes: 10, bytesServedTotal: 20 }),
    retry: { maxNumRetry: Number.POSITIVE_INFINITY, retryDelayMs: 20, maxRetryDelayMs: 100 },
  });
  t.teardown(async () => {
    await client.close();
    await coord.close();
  });
  const changes: ClusterChange[] = [];
  client.onChange((c) => changes.push(c));
  client.start({ id: 'relay-x', url: 'http://127.0.0.1:1234', capacity: 2 });

  await waitFor(() => client.isRegistered && client.stream('demo') !== undefined, 5000, 'registration');
  const reg = coord.calls.find((c) => c.path === '/api/v1/relays')!;
  t.is(reg.auth, 'Bearer s3cret');
  t.deepEqual(reg.body, { id: 'relay-x', url: 'http://127.0.0.1:1234', capacity: 2 });
  await waitFor(() => client.ring().get('relay-x') !== undefined, 5000, 'ring with self');
  await waitFor(() => coord.count('POST', '/heartbeat') >= 2, 5000, 'heartbeats');
  const beat = coord.calls.find((c) => c.path.endsWith('/heartbeat'))!;
  t.deepEqual(beat.body, { load: { viewers: 2, cacheBytes: 10, bytesServedTotal: 20 } });

  coord.send('segment', announce('720p', '7.m4s', Buffer.from('abc')));
  await waitFor(() => client.announcement('demo', '720p', '7.m4s') !== undefined, 5000, 'segment event');
  t.true(changes.some((c) => c.type === 'segment'));

  // The coordinator forgets the relay: the next heartbeat gets 404 and the relay registers again.
  coord.forget = true;
  const registrations = coord.count('POST', '/api/v1/relays');
  await waitFor(() => coord.count('POST', '/api/v1/relays') > registrations, 5000, 're-registration');
  coord.forget = false;

  // The event stream drops: the last known state stays, and the client reconnects.
  const connects = coord.count('GET', '/api/v1/events');
  coord.dropStreams();
  t.truthy(client.stream('demo'));
  await waitFor(() => coord.count('GET', '/api/v1/events') > connects, 5000, 'events reconnect');

  // The ring moves on without an event reaching us: heartbeats notice and the events reconnect.
  coord.version += 5;
  await waitFor(() => client.ring().version === coord.version, 5000, 'ring catch-up');

  await client.drain();
  t.is(coord.count('POST', '/api/v1/relays/relay-x/drain'), 1);
  await client.close();
  t.is(coord.count('DELETE', '/api/v1/relays/relay-x'), 1);
});

test('keeps the last known state while the coordinator is unreachable', async (t) => {
  const coord = await new FakeCoordinator().start();
  coord.streams.push(stream);
  const client = new CoordinatorClient({
    coordinatorUrls: [coord.url],
    clusterSecret: '',
    heartbeatIntervalMs: 50,
    log: silentLogger(),
    load: () => ({ viewers: 0, cacheBytes: 0, bytesServedTotal: 0 }),
    retry: { maxNumRetry: Number.POSITIVE_INFINITY, retryDelayMs: 20, maxRetryDelayMs: 100 },
  });
  t.teardown(() => client.close());
  client.start({ id: 'relay-y', url: 'http://127.0.0.1:1235' });
  await waitFor(() => client.stream('demo') !== undefined && client.ring().size === 1, 5000, 'snapshot');
  await coord.close();
  t.truthy(client.stream('demo'));
  t.is(client.ring().size, 1);
});
