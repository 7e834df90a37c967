import test, { type ExecutionContext } from 'ava';
import { defaultPlaybackKey, mintToken } from '../../common/playback-token.ts';
import { parseMaster } from '../../harness/master.ts';
import { call, putStream, registerRelay, SECRET, startCoordinator } from './helpers.ts';

/** A coordinator with two relays, a private stream `priv` and a public one `pub`, both live. */
async function cluster(t: ExecutionContext) {
  const c = await startCoordinator({ relayTimeoutMs: 60_000 });
  t.teardown(() => c.close());
  for (let i = 1; i <= 2; i++) await registerRelay(c.url, `r${i}`, `http://127.0.0.${i}:${9000 + i}`);
  t.is((await call(`${c.url}/api/v1/streams`, { body: { id: 'priv', private: true } })).status, 201);
  t.is((await call(`${c.url}/api/v1/streams`, { body: { id: 'pub' } })).status, 201);
  await putStream(c.url, 'priv');
  await putStream(c.url, 'pub');
  return c;
}

const KEYS = [defaultPlaybackKey(SECRET)];
const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

async function get(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, code: res.headers.get('x-ringcast-error'), text: await res.text() };
}

test('POST /api/v1/tokens: a token and a URL that plays; the master carries the token to relays and steering', async (t) => {
  const c = await cluster(t);
  const minted = await call(`${c.url}/api/v1/tokens`, { body: { stream: 'priv', ttlSeconds: 600 } });
  t.is(minted.status, 200);
  const { token, url, expiresAt } = minted.body;
  t.is(url, `${c.url}/t/${token}/live/priv/master.m3u8`);
  t.true(Math.abs(Date.parse(expiresAt) - (Date.now() + 600_000)) < 5000);
  const { status, text } = await get(`${url}?session=v1`);
  t.is(status, 200);
  const master = parseMaster(text);
  for (const v of master.variants)
    t.regex(v.uri, new RegExp(`^http://127\\.0\\.0\\.[12]:900[12]/t/${token}/live/priv/`));
  const steerUri = master.contentSteering!.serverUri;
  t.is(steerUri, `${c.url}/t/${token}/steer/priv?session=v1`);
  const steer = JSON.parse((await get(steerUri)).text);
  t.is(steer['RELOAD-URI'], steerUri);
  for (const clone of steer['PATHWAY-CLONES'])
    for (const uri of Object.values(clone['URI-REPLACEMENT']['PER-VARIANT-URIS']))
      t.true(String(uri).includes(`/t/${token}/live/priv/`));
});

test('private stream: no, expired, forged or other-stream token is 403 with a code; steering too', async (t) => {
  const c = await cluster(t);
  const expired = mintToken(KEYS, { stream: 'priv', expiresAt: Math.floor(Date.now() / 1000) - 1 });
  const other = mintToken(KEYS, { stream: 'pub', expiresAt: inAMinute() });
  const good = mintToken(KEYS, { stream: 'priv', expiresAt: inAMinute() });
  const forged = `${good.slice(0, -2)}${good.endsWith('xx') ? 'yy' : 'xx'}`;
  const want: [string, string][] = [
    ['/live/priv/master.m3u8', 'RC_TOKEN_MISSING'],
    [`/t/${expired}/live/priv/master.m3u8`, 'RC_TOKEN_EXPIRED'],
    [`/t/${forged}/live/priv/master.m3u8`, 'RC_TOKEN_INVALID'],
    [`/t/${other}/live/priv/master.m3u8`, 'RC_TOKEN_INVALID'],
    ['/steer/priv?session=v1', 'RC_TOKEN_MISSING'],
    [`/t/${forged}/steer/priv?session=v1`, 'RC_TOKEN_INVALID'],
  ];
  for (const [path, code] of want) {
    const got = await get(`${c.url}${path}`);
    t.deepEqual([got.status, JSON.parse(got.text).error.code], [403, code], path);
  }
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.false(metrics.includes(good.split('.')[3]!), 'no token in metrics');
  t.is((await get(`${c.url}/t/${good}/live/priv/master.m3u8`)).status, 200);
});

test('public stream: a token prefix is ignored and the URIs stay plain', async (t) => {
  const c = await cluster(t);
  const token = mintToken(KEYS, { stream: 'pub', expiresAt: inAMinute() });
  for (const path of [
    '/live/pub/master.m3u8',
    `/t/${token}/live/pub/master.m3u8`,
    '/t/junk/live/pub/master.m3u8',
  ]) {
    const got = await get(`${c.url}${path}?session=v2`);
    t.is(got.status, 200, path);
    const master = parseMaster(got.text);
    t.false(
      master.variants.some((v) => v.uri.includes('/t/')),
      path,
    );
    t.is(master.contentSteering!.serverUri, `${c.url}/steer/pub?session=v2`);
  }
});

test('POST /api/v1/tokens: secret, body and stream checked; registrations list says private', async (t) => {
  const c = await cluster(t);
  const tokens = `${c.url}/api/v1/tokens`;
  t.is((await call(tokens, { body: { stream: 'priv', ttlSeconds: 60 }, secret: null })).status, 401);
  const bad: [unknown, number, string][] = [
    [{ stream: 'priv', ttlSeconds: 5 }, 400, 'RC_BAD_BODY'],
    [{ stream: 'priv', ttlSeconds: 8 * 24 * 3600 }, 400, 'RC_BAD_BODY'],
    [{ stream: 'priv', ttlSeconds: 1.5 }, 400, 'RC_BAD_BODY'],
    [{ stream: '../x', ttlSeconds: 60 }, 400, 'RC_BAD_BODY'],
    [{ stream: 'priv', ttlSeconds: 60, network: 'nonsense' }, 400, 'RC_BAD_BODY'],
    [{ stream: 'priv', ttlSeconds: 60, network: '10.0.0.0/99' }, 400, 'RC_BAD_BODY'],
    [{ stream: 'nope', ttlSeconds: 60 }, 404, 'RC_STREAM_NOT_FOUND'],
  ];
  for (const [body, status, code] of bad) {
    const got = await call(tokens, { body });
    t.deepEqual([got.status, got.body.error?.code], [status, code], JSON.stringify(body));
  }
  const bound = await call(tokens, { body: { stream: 'priv', ttlSeconds: 60, network: '10.0.0.0/8' } });
  t.is(bound.status, 200);
  // This test's client is 127.0.0.1: outside the token's network.
  const got = await get(bound.body.url);
  t.deepEqual([got.status, JSON.parse(got.text).error.code], [403, 'RC_TOKEN_WRONG_CLIENT']);
  const list = await call(`${c.url}/api/v1/streams`);
  t.deepEqual(
    list.body.streams.map((s: { id: string; private?: boolean }) => [s.id, s.private === true]),
    [
      ['priv', true],
      ['pub', false],
    ],
  );
  t.true((await call(`${c.url}/api/v1/streams/priv`)).body.stream.private);
});
