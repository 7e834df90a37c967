import test from 'ava';
import { TEST_LADDER, testOriginArgs } from '../../harness/cluster.ts';

const BASE = ['--port', '0', '--rtmp-port', '0', '--coordinator-url', 'http://c:1'];
const PICTURE = ['--ladder', TEST_LADDER, '--fps', '15', '--testsrc-size', '320x180'];

test("testOriginArgs: OS-chosen ports, the tiny ladder, data in the test's directory", (t) => {
  const cases: [Parameters<typeof testOriginArgs>[1], string[]][] = [
    [
      { coordinatorUrl: 'http://c:1' },
      [...BASE, '--source', 'testsrc', ...PICTURE, '--data-dir', '/d/origin'],
    ],
    [
      { coordinatorUrl: 'http://c:1', source: 'rtmp', streamKey: 'k1' },
      [...BASE, '--source', 'rtmp', '--stream-key', 'k1', ...PICTURE, '--data-dir', '/d/origin'],
    ],
    [
      { coordinatorUrl: 'http://c:1', args: ['--low-latency', 'false'] },
      [...BASE, '--source', 'testsrc', ...PICTURE, '--data-dir', '/d/origin', '--low-latency', 'false'],
    ],
  ];
  for (const [o, want] of cases) t.deepEqual(testOriginArgs('/d', o), want, JSON.stringify(o));
});
