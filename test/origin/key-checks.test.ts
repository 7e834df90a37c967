import test from 'ava';
import { CoordinatorBases } from '../../common/coordinator-bases.ts';
import { CoordinatorKeyChecks, refusalLabel } from '../../origin/key-checks.ts';
import { SECRET } from './origin-kit.ts';
import { standInCoordinator } from './stand-in-coordinator.ts';

test('refusalLabel: reasons become a few metric labels', (t) => {
  const rows: [string, string][] = [
    ['coordinator unreachable for the key check (fetch failed)', 'key check failed'],
    ['key check failed: coordinator answered HTTP 503', 'key check failed'],
    ['unknown or revoked stream key', 'wrong stream key'],
    ['wrong stream key', 'wrong stream key'],
    ["stream 'demo' is this origin's own (--stream-key)", "stream  is this origin's own (--stream-key)"],
    ['x'.repeat(80), 'x'.repeat(60)],
  ];
  for (const [reason, label] of rows) t.is(refusalLabel(reason), label, reason);
});

test('CoordinatorKeyChecks: verdicts, the own stream kept, a live key dropped only on a clear verdict', async (t) => {
  const fake = await standInCoordinator({ secret: SECRET, checksKeys: true, downKey: 'down' });
  t.teardown(() => fake.server.close());
  fake.keys.set('k-alpha', 'alpha');
  fake.keys.set('k-demo', 'demo');
  const keys = new CoordinatorKeyChecks({
    coordinators: new CoordinatorBases(['http://127.0.0.1:9', fake.url]),
    clusterSecret: SECRET,
    ownStreamId: 'demo',
    ownKey: 'own-key',
  });
  t.deepEqual(await keys.authorize('k-alpha'), { streamId: 'alpha' });
  t.deepEqual(await keys.authorize('k-demo'), {
    refused: "stream 'demo' is this origin's own (--stream-key)",
  });
  t.deepEqual(await keys.authorize('nope'), { refused: 'unknown or revoked stream key' });
  const dropped: string[] = [];
  fake.keys.delete('k-alpha');
  await keys.recheck(
    [
      { streamId: 'alpha', key: 'k-alpha' },
      { streamId: 'down', key: 'down' },
      { streamId: 'demo', key: 'own-key' },
    ],
    (id) => dropped.push(id),
  );
  t.deepEqual(dropped, ['alpha']);
  t.false(fake.authCalls.includes('own-key'), 'the own key is never asked');
});
