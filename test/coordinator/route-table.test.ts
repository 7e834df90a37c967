import test from 'ava';
import { byPath, paramNames, queryOf, type RouteSpec, row } from '../../coordinator/route-table.ts';

const paramCases: [string, string[]][] = [
  ['/', []],
  ['/api/v1/relays', []],
  ['/api/v1/relays/:id/heartbeat', ['id']],
  ['/api/v1/streams/:streamId', ['streamId']],
  ['/live/:streamId/master.m3u8', ['streamId']],
  ['/a/:one/b/:two', ['one', 'two']],
  ['/player/*file', []],
];

for (const [path, names] of paramCases) {
  test(`paramNames ${path}`, (t) => {
    t.deepEqual(paramNames(path), names);
  });
}

test('byPath groups the rows of one path wherever they are listed, in first-seen order', (t) => {
  const h = () => undefined;
  const rows: RouteSpec[] = [
    row('put', '/api/v1/streams/:streamId', h),
    row('get', '/api/v1/ring', h),
    row('get', '/api/v1/streams/:streamId', h),
    row('delete', '/api/v1/streams/:streamId', h),
  ];
  const groups = byPath(rows);
  t.deepEqual([...groups.keys()], ['/api/v1/streams/:streamId', '/api/v1/ring']);
  t.deepEqual(
    groups.get('/api/v1/streams/:streamId')!.map((r) => r.method),
    ['put', 'get', 'delete'],
  );
});

const queryCases: [string, string, string | null][] = [
  ['/steer/demo', 'session', null],
  ['/steer/demo?session=a', 'session', 'a'],
  ['/steer/demo?session=a&session=b', 'session', 'a'],
  ['/steer/demo?session=&x=1', 'session', ''],
  ['/player?stream=demo%20x', 'stream', 'demo x'],
];

for (const [url, key, value] of queryCases) {
  test(`queryOf ${url} ${key}`, (t) => {
    t.is(queryOf({ url } as never).get(key), value);
  });
}
