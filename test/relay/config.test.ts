import test from 'ava';
import { ConfigError } from '../../common/config.ts';
import { loadRelayConfig } from '../../relay/config.ts';

/** A coordinator and its secret, as every relay started from the command line has. */
const OK = ['--coordinator-url', 'http://127.0.0.1:8080/', '--cluster-secret', 'k'];

const cases: [string, string[], Record<string, string>, RegExp[]][] = [
  ['defaults with a coordinator and a secret', OK, {}, []],
  ['no coordinator', [], {}, [/'coordinatorUrl' is required/]],
  [
    'a coordinator without the secret',
    ['--coordinator-url', 'http://c:1'],
    {},
    [/'clusterSecret' is required/],
  ],
  [
    'the secret from the environment',
    ['--coordinator-url', 'http://c:1'],
    { RINGCAST_CLUSTER_SECRET: 's' },
    [],
  ],
  [
    'the coordinator from the relay variable',
    [],
    { RINGCAST_RELAY_COORDINATOR_URL: 'http://c:1', RINGCAST_CLUSTER_SECRET: 's' },
    [],
  ],
  [
    'a blocking timeout below the first-byte timeout',
    [...OK, '--blocking-timeout-ms', '1000', '--first-byte-timeout-ms', '2000'],
    {},
    [/'blockingTimeoutMs' must be at least firstByteTimeoutMs \(2000\)/],
  ],
  ['equal timeouts', [...OK, '--blocking-timeout-ms', '2000', '--first-byte-timeout-ms', '2000'], {}, []],
  [
    'every cross-key problem named at once',
    ['--blocking-timeout-ms', '1'],
    {},
    [/'coordinatorUrl' is required/, /'blockingTimeoutMs'/],
  ],
  ['a bad value is named before cross-key checks', ['--port', 'x'], {}, [/'port' must be a whole number/]],
];

for (const [name, argv, env, problems] of cases) {
  test(`loadRelayConfig: ${name}`, (t) => {
    if (problems.length === 0) {
      t.notThrows(() => loadRelayConfig(argv, env));
      return;
    }
    const err = t.throws(() => loadRelayConfig(argv, env), { instanceOf: ConfigError });
    for (const p of problems) t.regex(err?.message ?? '', p);
  });
}

test('loadRelayConfig: URLs are normalised once, by the loader; the result is frozen', (t) => {
  const c = loadRelayConfig([...OK, '--public-url', 'http://relay.example:8081/'], {});
  t.deepEqual(c.coordinatorUrl, ['http://127.0.0.1:8080']);
  t.is(c.publicUrl, 'http://relay.example:8081');
  t.true(Object.isFrozen(c));
});

test('loadRelayConfig: overrides are checked like flags', (t) => {
  t.is(
    loadRelayConfig([], {}, { coordinatorUrl: 'http://a:1/,http://b:2', clusterSecret: 'k' })
      .coordinatorUrl[1],
    'http://b:2',
  );
  t.throws(() => loadRelayConfig([], {}, { coordinatorUrl: 'http://a:1', clusterSecret: '' }), {
    instanceOf: ConfigError,
  });
});
