import { Writable } from 'node:stream';
import test from 'ava';
import { pino } from 'pino';
import { sumMetric } from '../../harness/wait.ts';
import { call, putStream, rawRequest, startCoordinator } from './helpers.ts';

const auth = (base: string, key: unknown) => call(`${base}/api/v1/publish-auth`, { body: { key } });
const addStream = (base: string, id: unknown) => call(`${base}/api/v1/streams`, { body: { id } });

test('add, rotate, revoke and remove a stream, with publish-auth after each step', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());

  const added = await addStream(c.url, 'demo');
  t.is(added.status, 201);
  t.is(added.body.id, 'demo');
  const key1: string = added.body.key;
  t.regex(key1, /^[A-Za-z0-9_-]{24,}$/);
  t.deepEqual((await auth(c.url, key1)).body, { streamId: 'demo' });

  // A second stream's key maps to that stream, not to the first.
  const other = (await addStream(c.url, 'other')).body.key;
  t.not(other, key1);
  t.deepEqual((await auth(c.url, other)).body, { streamId: 'other' });

  const dup = await addStream(c.url, 'demo');
  t.is(dup.status, 409);
  t.is(dup.body.error.code, 'RC_STREAM_EXISTS');
  t.is((await auth(c.url, key1)).status, 200, 'a refused add leaves the key alone');

  const rotated = await call(`${c.url}/api/v1/streams/demo/key`, { method: 'POST' });
  t.is(rotated.status, 200);
  const key2: string = rotated.body.key;
  t.not(key2, key1);
  const old = await auth(c.url, key1);
  t.is(old.status, 403);
  t.is(old.body.error.code, 'RC_KEY_REFUSED');
  t.deepEqual((await auth(c.url, key2)).body, { streamId: 'demo' });

  const revoked = await call(`${c.url}/api/v1/streams/demo/key`, { method: 'DELETE' });
  t.is(revoked.status, 200);
  t.is(revoked.body.stream.keyState, 'revoked');
  t.is((await auth(c.url, key2)).status, 403);
  t.is((await call(`${c.url}/api/v1/streams/demo/key`, { method: 'DELETE' })).status, 200, 'idempotent');

  const key3: string = (await call(`${c.url}/api/v1/streams/demo/key`, { method: 'POST' })).body.key;
  t.deepEqual((await auth(c.url, key3)).body, { streamId: 'demo' });
  t.is((await auth(c.url, key2)).status, 403);

  t.is((await call(`${c.url}/api/v1/streams/demo`, { method: 'DELETE' })).status, 200);
  t.is((await auth(c.url, key3)).status, 403);
  const gone = await call(`${c.url}/api/v1/streams/demo`, { method: 'DELETE' });
  t.is(gone.status, 404);
  t.is(gone.body.error.code, 'RC_STREAM_NOT_FOUND');
  t.is((await call(`${c.url}/api/v1/streams/demo/key`, { method: 'POST' })).status, 404);
  t.is((await call(`${c.url}/api/v1/streams/demo/key`, { method: 'DELETE' })).status, 404);
  // Removed, the id can be registered again, with a new key.
  const again = await addStream(c.url, 'demo');
  t.is(again.status, 201);
  t.not(again.body.key, key3);
  t.is((await auth(c.url, key3)).status, 403);

  t.is((await auth(c.url, 'not-a-key-at-all')).status, 403);
  t.is((await auth(c.url, 'x'.repeat(256))).status, 403);
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.true(sumMetric(metrics, 'ringcast_coordinator_publish_auth_total', { result: 'accepted' }) >= 5);
  t.true(sumMetric(metrics, 'ringcast_coordinator_publish_auth_total', { result: 'refused' }) >= 7);
});

test('the list shows ids, dates, key state and live state, never a key or its digest', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const c = await startCoordinator({}, undefined, pino({ level: 'trace' }, sink));
  t.teardown(() => c.close());
  const keys: string[] = [];
  keys.push((await addStream(c.url, 'b-stream')).body.key);
  keys.push((await addStream(c.url, 'a-stream')).body.key);
  await putStream(c.url, 'a-stream');
  keys.push((await call(`${c.url}/api/v1/streams/b-stream/key`, { method: 'POST' })).body.key);
  await call(`${c.url}/api/v1/streams/b-stream/key`, { method: 'DELETE' });
  for (const key of keys) await auth(c.url, key);
  await auth(c.url, 'wrong-key-0123456789abcdef');

  const list = await call(`${c.url}/api/v1/streams`);
  t.is(list.status, 200);
  const rows = list.body.streams;
  t.deepEqual(
    rows.map((r: { id: string; keyState: string; state: string | null }) => [r.id, r.keyState, r.state]),
    [
      ['a-stream', 'active', 'live'],
      ['b-stream', 'revoked', null],
    ],
  );
  t.deepEqual(Object.keys(rows[0]).sort(), ['createdAt', 'id', 'keyChangedAt', 'keyState', 'state']);
  t.false(Number.isNaN(Date.parse(rows[0].createdAt)));

  const everything = [
    list,
    await call(`${c.url}/api/v1/cluster`),
    await call(`${c.url}/api/v1/streams/a-stream`),
    await call(`${c.url}/healthz`),
  ]
    .map((r) => JSON.stringify(r.body))
    .join('\n');
  t.true(lines.length > 0, 'the coordinator logged');
  const logs = lines.join('');
  t.regex(logs, /publish accepted/);
  t.regex(logs, /publish refused/);
  for (const key of [...keys, 'wrong-key-0123456789abcdef']) {
    t.false(everything.includes(key), 'no key in any GET answer');
    t.false(logs.includes(key), 'no key in the logs');
  }
  t.false(/[0-9a-f]{64}/.test(everything), 'no digest in any GET answer');
});

test('every streams and publish-auth call needs the cluster secret', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  const key = (await addStream(c.url, 'demo')).body.key;
  const cases: Array<[string, string, unknown]> = [
    ['POST', '/api/v1/streams', { id: 'x' }],
    ['GET', '/api/v1/streams', undefined],
    ['DELETE', '/api/v1/streams/demo', undefined],
    ['POST', '/api/v1/streams/demo/key', undefined],
    ['DELETE', '/api/v1/streams/demo/key', undefined],
    ['POST', '/api/v1/publish-auth', { key }],
  ];
  for (const secret of [null, 'wrong-secret-123', '']) {
    for (const [method, path, body] of cases) {
      const res = await call(`${c.url}${path}`, { method, body, secret });
      t.is(res.status, 401, `${method} ${path} with ${secret}`);
      t.is(res.body.error.code, 'RC_UNAUTHORIZED');
    }
  }
  // Nothing changed: the stream and its key are as they were.
  t.deepEqual((await auth(c.url, key)).body, { streamId: 'demo' });
  t.is((await call(`${c.url}/api/v1/streams`)).body.streams.length, 1);
});

test('bad stream ids are 400 RC_BAD_BODY in a body and RC_BAD_PATH in a path', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  for (const id of ['', 'a b', '../x', 'x'.repeat(65), 'a.b', 7, null, undefined]) {
    const res = await addStream(c.url, id);
    t.is(res.status, 400, JSON.stringify(id));
    t.is(res.body.error.code, 'RC_BAD_BODY');
    t.regex(res.body.error.message, /'id'/);
  }
  t.is((await call(`${c.url}/api/v1/streams`, { body: [1] })).body.error.code, 'RC_BAD_BODY');
  for (const key of [undefined, '', 5, 'k'.repeat(257)]) {
    const res = await auth(c.url, key);
    t.is(res.status, 400, JSON.stringify(key));
    t.regex(res.body.error.message, /'key'/);
  }
  const paths: Array<[string, string]> = [
    ['DELETE', '/api/v1/streams/a%20b'],
    ['POST', '/api/v1/streams/..%2f..%2fetc/key'],
    ['DELETE', '/api/v1/streams/bad.id/key'],
    ['DELETE', `/api/v1/streams/${'x'.repeat(65)}`],
  ];
  for (const [method, path] of paths) {
    const res = await rawRequest(c.url, method, path);
    t.is(res.status, 400, `${method} ${path}`);
    t.is(res.body.error.code, 'RC_BAD_PATH');
  }
  t.deepEqual((await call(`${c.url}/api/v1/streams`)).body.streams, []);
});

test('the origin announcements on PUT /api/v1/streams/:streamId work as before, registered or not', async (t) => {
  const c = await startCoordinator();
  t.teardown(() => c.close());
  t.is((await putStream(c.url, 'unregistered')).status, 200);
  await addStream(c.url, 'demo');
  const put = await putStream(c.url, 'demo');
  t.is(put.status, 200);
  t.is(put.body.stream.id, 'demo');
  t.is((await call(`${c.url}/api/v1/streams/demo`)).body.stream.state, 'live');
  t.is((await call(`${c.url}/api/v1/streams/demo`, { method: 'DELETE' })).status, 200);
  // Removing the registration leaves the announced stream to the origin.
  t.is((await call(`${c.url}/api/v1/streams/demo`)).body.stream.state, 'live');
});
