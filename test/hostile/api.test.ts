import test from 'ava';
import type { TestCluster } from '../../harness/cluster.ts';
import { allAlive, api, hostileFile } from './hostile-cluster.ts';
import { OutcomeLog } from './hostile-kit.ts';

// A stranger on the coordinator's API of one real cluster with a live stream: malformed bodies (even
// with the cluster secret) get a 4xx with an error code and change nothing; calls without the secret
// are refused with 401.
let c: TestCluster;
const log = new OutcomeLog();

const file = hostileFile('api', 1, log, (cluster) => {
  c = cluster;
});

test.serial(
  'malformed registration, heartbeat, stream and announcement bodies get 400/413; the ring is unchanged',
  async (t) => {
    const before = await c.cluster();
    const S = c.secret;
    const cases: [string, string, string | undefined][] = [
      ['POST /api/v1/relays', 'not json', '{"id":'],
      ['POST /api/v1/relays', 'a JSON array', '[1,2,3]'],
      ['POST /api/v1/relays', 'id with a slash', '{"id":"../evil","url":"http://127.0.0.1:1"}'],
      ['POST /api/v1/relays', 'url with javascript:', '{"id":"evil1","url":"javascript:alert(1)"}'],
      ['POST /api/v1/relays', 'url with file:', '{"id":"evil2","url":"file:///etc/passwd"}'],
      ['POST /api/v1/relays', 'negative capacity', '{"id":"evil3","url":"http://127.0.0.1:1","capacity":-5}'],
      ['POST /api/v1/relays', 'capacity 1e308', '{"id":"evil4","url":"http://127.0.0.1:1","capacity":1e308}'],
      ['POST /api/v1/relays', 'missing url', '{"id":"evil5"}'],
      ['POST /api/v1/relays', '__proto__ pollution', '{"__proto__":{"admin":true},"id":"evil6"}'],
      [
        'POST /api/v1/relays',
        'body of 2 MB',
        `{"id":"evil7","url":"http://127.0.0.1:1","x":"${'x'.repeat(2_000_000)}"}`,
      ],
      [
        'POST /api/v1/relays/relay-nosuch/heartbeat',
        'heartbeat for an unknown relay',
        '{"load":{"viewers":1,"cacheBytes":1,"bytesServedTotal":1}}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'stream with a bad state',
        '{"state":"hacked","originUrl":"http://127.0.0.1:1","renditions":[]}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'stream with a file: origin',
        '{"state":"live","originUrl":"file:///etc","renditions":[]}',
      ],
      [
        'PUT /api/v1/streams/evil',
        'renditions not an array',
        '{"state":"live","originUrl":"http://127.0.0.1:1","renditions":"x"}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'negative msn',
        '{"streamId":"demo","rendition":"180p","msn":-1,"file":"1.m4s","size":1,"sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'file with traversal',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"../../x.m4s","size":1,"sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'size as a string',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"1.m4s","size":"big","sha256":"00","duration":2}',
      ],
      [
        'POST /api/v1/streams/demo/segments',
        'sha256 not hex',
        '{"streamId":"demo","rendition":"180p","msn":1,"file":"1.m4s","size":1,"sha256":"zz","duration":2}',
      ],
      ['POST /api/v1/streams/demo/segments', 'empty body', undefined],
    ];
    for (const [call, name, body] of cases) {
      const [method, path] = call.split(' ') as [string, string];
      const a = await api(c, method, path, body, S);
      // An oversized body is refused with 413 and Connection: close; a client still sending when the
      // server closes may see the close before the 413. Either way nothing was read past the limit.
      const oversized = name === 'body of 2 MB' && a.status === 0;
      const ok = oversized || (a.status >= 400 && a.status < 500 && a.code !== '');
      log.add({
        group: 'malformed API bodies (with the secret)',
        target: 'coordinator',
        input: `${call}: ${name}`,
        outcome: `${a.status} ${a.code}`,
        ok,
      });
      t.true(ok, `${call} ${name}: ${a.status} ${a.code}`);
    }
    const after = await c.cluster();
    t.deepEqual(
      after.ring.relays.map((r) => r.id),
      before.ring.relays.map((r) => r.id),
      'no relay joined',
    );
    t.falsy(
      after.streams.find((s) => s.id === 'evil'),
      'no stream was created',
    );
    await allAlive(t, c);
  },
);

test.serial('calls without the cluster secret are refused with 401', async (t) => {
  const reg = '{"id":"intruder","url":"http://127.0.0.1:1","capacity":100}';
  const cases: [string, string, string | undefined, string | undefined][] = [
    ['register a relay, no Authorization', 'POST /api/v1/relays', reg, undefined],
    ['register a relay, wrong secret', 'POST /api/v1/relays', reg, 'wrong'],
    ['register a relay, secret with a suffix', 'POST /api/v1/relays', reg, `${c.secret}x`],
    ['register a relay, empty bearer', 'POST /api/v1/relays', reg, ''],
    [
      'announce a stream, no secret',
      'PUT /api/v1/streams/intruder',
      '{"state":"live","originUrl":"http://127.0.0.1:1","renditions":[]}',
      undefined,
    ],
    ['announce a segment, wrong secret', 'POST /api/v1/streams/demo/segments', '{}', 'wrong'],
    ['drain a relay, no secret', `POST /api/v1/relays/${c.relays[0]!.id}/drain`, undefined, undefined],
    ['remove a relay, no secret', `DELETE /api/v1/relays/${c.relays[0]!.id}`, undefined, undefined],
    ['publish-auth, no secret', 'POST /api/v1/publish-auth', `{"key":"${c.streamKey}"}`, undefined],
  ];
  for (const [name, call, body, secret] of cases) {
    const [method, path] = call.split(' ') as [string, string];
    const a = await api(c, method, path, body, secret);
    const ok = a.status === 401 && a.code === 'RC_UNAUTHORIZED';
    log.add({
      group: 'no or wrong cluster secret',
      target: 'coordinator',
      input: name,
      outcome: `${a.status} ${a.code}`,
      ok,
    });
    t.true(ok, `${name}: ${a.status} ${a.code}`);
  }
  const view = await c.cluster();
  t.false(
    view.ring.relays.some((r) => r.id === 'intruder'),
    'the intruder is not in the ring',
  );
  t.true(
    view.ring.relays.every((r) => r.state === 'active'),
    'no relay was drained',
  );
  await allAlive(t, c);
});

file.endsPlaying();
