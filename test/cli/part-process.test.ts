import test from 'ava';
import { listeningInfo, parseLogLine } from '../../cli/part-process.ts';

test('parseLogLine: pino JSON objects only', (t) => {
  t.deepEqual(parseLogLine('{"msg":"listening","url":"http://127.0.0.1:1"}'), {
    msg: 'listening',
    url: 'http://127.0.0.1:1',
  });
  t.deepEqual(parseLogLine('{}'), {});
  // A stack trace, a warning from node, or JSON that is not an object: not a log line.
  for (const raw of ['null', '42', '[1]', '"text"', '    at Object.<anonymous> (file.ts:1:1)', ''])
    t.is(parseLogLine(raw), undefined, raw);
});

test("listeningInfo: the url, rtmpUrl and id of a part's listening line", (t) => {
  const cases: [Record<string, unknown>, ReturnType<typeof listeningInfo>][] = [
    [
      { msg: 'listening', url: 'http://a:1' },
      { url: 'http://a:1', rtmpUrl: undefined, id: undefined },
    ],
    [
      { msg: 'listening', url: 'http://a:1', rtmpUrl: 'rtmp://a:2/live', id: 7 },
      { url: 'http://a:1', rtmpUrl: 'rtmp://a:2/live', id: undefined },
    ],
    [
      { msg: 'listening', url: 'http://a:1', id: 'relay-1' },
      { url: 'http://a:1', rtmpUrl: undefined, id: 'relay-1' },
    ],
    [{ msg: 'listening' }, undefined],
    [{ msg: 'started', url: 'http://a:1' }, undefined],
  ];
  for (const [line, want] of cases) t.deepEqual(listeningInfo(line), want, JSON.stringify(line));
});
