import test from 'ava';
import { ConfigError, loadConfig } from '../../common/config.ts';
import { COORDINATOR_CONFIG, crossCheck, loadCoordinatorConfig } from '../../coordinator/config.ts';

const SECRET = { clusterSecret: 'config-test-secret' };

/** Overrides, then the keys the cross-check must name (none: the config is consistent). */
const cases: [string, Partial<Record<keyof typeof COORDINATOR_CONFIG, unknown>>, string[]][] = [
  ['defaults', {}, []],
  ['timeout exactly twice the heartbeat', { relayTimeoutMs: 2000, heartbeatIntervalMs: 1000 }, []],
  [
    'timeout under twice the heartbeat',
    { relayTimeoutMs: 1500, heartbeatIntervalMs: 1000 },
    ['relayTimeoutMs'],
  ],
  ['sessions per address equal to the total', { sessionsMaxPerAddress: 100, maxSessions: 100 }, []],
  [
    'sessions per address over the total',
    { sessionsMaxPerAddress: 101, maxSessions: 100 },
    ['sessionsMaxPerAddress'],
  ],
  [
    'event streams per address over the total',
    { eventsMaxPerAddress: 5, eventsMaxSubscribers: 4 },
    ['eventsMaxPerAddress'],
  ],
  [
    'every pair wrong at once',
    {
      relayTimeoutMs: 200,
      heartbeatIntervalMs: 1000,
      sessionsMaxPerAddress: 2,
      maxSessions: 1,
      eventsMaxPerAddress: 9,
      eventsMaxSubscribers: 8,
    },
    ['relayTimeoutMs', 'sessionsMaxPerAddress', 'eventsMaxPerAddress'],
  ],
];

for (const [name, overrides, keys] of cases) {
  test(`crossCheck: ${name}`, (t) => {
    const problems = crossCheck(loadConfig(COORDINATOR_CONFIG, [], {}, { ...SECRET, ...overrides }));
    t.deepEqual(
      problems.map((p) => /^'(\w+)'/.exec(p)?.[1]),
      keys,
    );
    if (keys.length === 0) t.notThrows(() => loadCoordinatorConfig([], {}, { ...SECRET, ...overrides }));
    else {
      const err = t.throws(() => loadCoordinatorConfig([], {}, { ...SECRET, ...overrides }), {
        instanceOf: ConfigError,
      });
      t.deepEqual(err?.problems, problems);
    }
  });
}

test('loadCoordinatorConfig reads flags and the environment, and a bad key is named before any cross-check', (t) => {
  const config = loadCoordinatorConfig(['--relay-timeout-ms', '5000'], {
    RINGCAST_CLUSTER_SECRET: 'from-the-environment',
  });
  t.is(config.relayTimeoutMs, 5000);
  t.is(config.clusterSecret, 'from-the-environment');
  const err = t.throws(() => loadCoordinatorConfig([], {}), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /'clusterSecret'/);
});
