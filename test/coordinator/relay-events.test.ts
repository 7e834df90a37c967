/** The relay's coordinator client against a real coordinator whose event stream needs the secret. */
import test from 'ava';
import { silentLogger } from '../../common/log.ts';
import { waitFor } from '../../harness/wait.ts';
import { CoordinatorClient } from '../../relay/coordinator-client.ts';
import { call, putStream, SECRET, segmentBody, startCoordinator } from './helpers.ts';

test("a relay's client follows the secret-guarded event stream: streams and segment announcements arrive", async (t) => {
  const c = await startCoordinator({ relayTimeoutMs: 600_000 });
  t.teardown(() => c.close());
  const client = new CoordinatorClient({
    coordinatorUrls: [c.url],
    clusterSecret: SECRET,
    heartbeatIntervalMs: 200,
    log: silentLogger(),
    load: () => ({ viewers: 0, cacheBytes: 0, bytesServedTotal: 0 }),
    retry: { maxNumRetry: Number.POSITIVE_INFINITY, retryDelayMs: 20, maxRetryDelayMs: 100 },
  });
  t.teardown(() => client.close());
  client.start({ id: 'relay-x', url: 'http://127.0.0.1:1234', capacity: 1 });
  await waitFor(() => client.isRegistered, { timeoutMs: 5000, what: 'registration' });
  t.is((await putStream(c.url, 'demo')).status, 200);
  await waitFor(() => client.stream('demo'), { timeoutMs: 5000, what: 'the stream event' });
  t.is((await call(`${c.url}/api/v1/streams/demo/segments`, { body: segmentBody('demo', 3) })).status, 202);
  const seg = await waitFor(() => client.announcement('demo', '720p', '3.m4s'), {
    timeoutMs: 5000,
    what: 'the segment event',
  });
  t.is(seg.sha256, 'a'.repeat(64));
});
