import test from 'ava';
import { DEMO_CONFIG } from '../../cli/demo.ts';
import {
  ConfigError,
  type ConfigKey,
  convert,
  envName,
  flagName,
  isHttpUrl,
  loadConfig,
  splitList,
} from '../../common/config.ts';
import { COORDINATOR_CONFIG } from '../../coordinator/config.ts';
import { ORIGIN_CONFIG } from '../../origin/config.ts';
import { RELAY_CONFIG } from '../../relay/config.ts';

const SPEC = {
  port: { type: 'int', default: 8080, min: 0, max: 65535, doc: 'port' },
  coordinatorUrl: { type: 'url', default: 'http://127.0.0.1:8080', doc: 'url' },
  source: { type: 'string', default: 'testsrc', choices: ['testsrc', 'rtmp'], doc: 'source' },
  lowLatency: { type: 'bool', default: false, doc: 'LL-HLS' },
} as const;

test('names: flags are kebab-case, variables RINGCAST_ upper snake', (t) => {
  t.is(flagName('coordinatorUrl'), '--coordinator-url');
  t.is(envName('coordinatorUrl'), 'RINGCAST_COORDINATOR_URL');
});

test('defaults, then environment, then flags', (t) => {
  t.is(loadConfig(SPEC, [], {}).port, 8080);
  t.is(loadConfig(SPEC, [], { RINGCAST_PORT: '9000' }).port, 9000);
  t.is(loadConfig(SPEC, ['--port', '9100'], { RINGCAST_PORT: '9000' }).port, 9100);
  t.is(loadConfig(SPEC, ['--port=9200']).port, 9200);
  t.true(loadConfig(SPEC, ['--low-latency']).lowLatency);
  t.true(Object.isFrozen(loadConfig(SPEC)));
});

test("a part's own variable (RINGCAST_RELAY_PORT) wins over the shared one for that part only; flags win over both", (t) => {
  const env = { RINGCAST_PORT: '9000', RINGCAST_RELAY_PORT: '9001' };
  t.is(envName('coordinatorUrl', 'relay'), 'RINGCAST_RELAY_COORDINATOR_URL');
  t.is(loadConfig(SPEC, [], env, {}, 'relay').port, 9001);
  t.is(loadConfig(SPEC, [], env, {}, 'coordinator').port, 9000);
  t.is(loadConfig(SPEC, [], env).port, 9000);
  t.is(loadConfig(SPEC, ['--port', '9100'], env, {}, 'relay').port, 9100);
  // A bad value in the part's variable is named like any other.
  t.throws(() => loadConfig(SPEC, [], { RINGCAST_RELAY_PORT: 'x' }, {}, 'relay'), {
    message: /'port' must be a whole number/,
  });
  // A bad shared value the part's own variable replaces does not matter to that part.
  t.is(loadConfig(SPEC, [], { RINGCAST_PORT: 'x', RINGCAST_RELAY_PORT: '9002' }, {}, 'relay').port, 9002);
});

test("no part's own variable name is also a shared name of some part's key (one name, one meaning)", (t) => {
  const specs = {
    coordinator: COORDINATOR_CONFIG,
    origin: ORIGIN_CONFIG,
    relay: RELAY_CONFIG,
    demo: DEMO_CONFIG,
  };
  const shared = new Set(Object.values(specs).flatMap((spec) => Object.keys(spec).map((k) => envName(k))));
  for (const [part, spec] of Object.entries(specs)) {
    for (const key of Object.keys(spec)) t.false(shared.has(envName(key, part)), `${part}.${key}`);
  }
});

test('one error names every bad key', (t) => {
  const err = t.throws(
    () =>
      loadConfig(SPEC, ['--port', 'eighty', '--source', 'webcam', '--bogus', 'x'], {
        RINGCAST_COORDINATOR_URL: 'ftp://x',
      }),
    { instanceOf: ConfigError },
  );
  const text = err.message;
  t.regex(text, /'port' must be a whole number/);
  t.regex(text, /'source' must be one of testsrc, rtmp/);
  t.regex(text, /'coordinatorUrl' must be an http\(s\) URL/);
  t.regex(text, /unknown option '--bogus'/);
  t.is((err as ConfigError).problems.length, 4);
});

test('ranges are checked', (t) => {
  const err = t.throws(() => loadConfig(SPEC, ['--port', '70000']), { instanceOf: ConfigError });
  t.regex(err.message, /'port' must be at most 65535/);
});

test('urls: a comma-separated list of http(s) URLs, each checked', (t) => {
  const spec = { coordinatorUrl: { type: 'urls', default: [] as string[], doc: 'coordinators' } } as const;
  t.deepEqual(loadConfig(spec, ['--coordinator-url', 'http://a:1/, http://b:2']).coordinatorUrl, [
    'http://a:1',
    'http://b:2',
  ]);
  t.deepEqual(loadConfig(spec, []).coordinatorUrl, []);
  const err = t.throws(() => loadConfig(spec, ['--coordinator-url', 'http://a:1,ftp://x,nope']), {
    instanceOf: ConfigError,
  });
  t.regex(err.message, /bad: 'ftp:\/\/x', 'nope'/);
});

test('URLs are normalised once, at the config edge: flags, environment and overrides alike', (t) => {
  const spec = { publicUrl: { type: 'url', default: '', doc: 'x' } } as const;
  t.is(loadConfig(spec, ['--public-url', 'http://a:1//']).publicUrl, 'http://a:1');
  t.is(loadConfig(spec, ['--public-url', ' http://a:1/ ']).publicUrl, 'http://a:1', 'spaces trimmed once');
  t.is(loadConfig(spec, ['--public-url', '  ']).publicUrl, '');
  t.is(loadConfig(spec, [], { RINGCAST_PUBLIC_URL: 'https://b/' }).publicUrl, 'https://b');
  t.is(loadConfig(spec, [], {}, { publicUrl: 'http://c:2/' }).publicUrl, 'http://c:2');
  t.is(loadConfig(spec, ['--public-url', '']).publicUrl, '', "'' keeps its meaning: the bound address");
  t.throws(() => loadConfig(spec, ['--public-url', 'ftp://d']), {
    message: /'publicUrl' must be an http\(s\) URL/,
  });
});

const key = (type: ConfigKey['type'], def: unknown = 'x'): ConfigKey => ({ type, default: def, doc: '' });

test('convert: one raw string per type, a bad one named with what was given', (t) => {
  const cases: [ConfigKey, string, unknown, string?][] = [
    [key('int'), '42', 42],
    [key('int'), '4.2', undefined, "'k' must be a whole number (got '4.2')"],
    [key('int'), ' ', undefined, "'k' must be a whole number (got ' ')"],
    [key('number'), '4.2', 4.2],
    [key('number'), 'x', undefined, "'k' must be a number (got 'x')"],
    [key('bool'), 'yes', true],
    [key('bool'), 'off', false],
    [key('bool'), 'maybe', undefined, "'k' must be true or false (got 'maybe')"],
    [key('url'), 'http://a:1//', 'http://a:1'],
    [key('url', ''), '', ''],
    [key('url'), '', undefined, "'k' must be an http(s) URL (got '')"],
    [key('url'), 'ftp://a', undefined, "'k' must be an http(s) URL (got 'ftp://a')"],
    [key('urls'), 'http://a/, https://b', ['http://a', 'https://b']],
    [key('urls'), 'http://a,b', undefined, "'k' must be http(s) URLs separated by commas (bad: 'b')"],
    [key('list'), ' a,,b ', ['a', 'b']],
    [key('string'), ' a ', ' a '],
  ];
  for (const [def, raw, want, problem] of cases) {
    const problems: string[] = [];
    t.deepEqual(convert('k', def, raw, problems), want, `${def.type} '${raw}'`);
    t.deepEqual(problems, problem ? [problem] : [], `${def.type} '${raw}'`);
  }
});

test('isHttpUrl and splitList', (t) => {
  for (const [raw, want] of [
    ['http://a', true],
    ['https://a:8080/x', true],
    ['rtmp://a', false],
    ['a', false],
    ['', false],
  ] as const)
    t.is(isHttpUrl(raw), want, raw);
  for (const [raw, want] of [
    ['', []],
    ['a', ['a']],
    [' a , b ,', ['a', 'b']],
  ] as const)
    t.deepEqual(splitList(raw), [...want], raw);
});
