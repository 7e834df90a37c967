/**
 * relay/request-head.ts: what the fast path accepts of a request head (anything else is Node's), and the
 * Range and If-None-Match readings both front ends share. Tables of input → result.
 */
import test from 'ava';
import {
  couldBeFast,
  etagMatches,
  type HeaderFields,
  parseHeaders,
  parseRange,
  parseRequestLine,
  splitTarget,
  visibleAscii,
} from '../../relay/request-head.ts';

test('couldBeFast: true while the bytes may still begin GET /live/ or HEAD /live/', (t) => {
  const rows: [string, boolean][] = [
    ['G', true],
    ['GET /li', true],
    ['GET /live/demo/720p/1.m4s HTTP/1.1\r\n', true],
    ['HEAD /live/x', true],
    ['H', true],
    ['GET /healthz HTTP/1.1', false],
    ['POST /live/x', false],
    ['get /live/x', false],
    ['HEAD /metrics', false],
    ['\x16\x03\x01', false],
    ['GET /t/k0.1.-.abc/live/x/720p/1.m4s HTTP/1.1', true],
    ['HEAD /t/', true],
    ['GET /tx/', false],
    ['GET /t', true],
  ];
  for (const [input, want] of rows)
    t.is(couldBeFast(Buffer.from(input, 'latin1')), want, JSON.stringify(input));
});

test('parseRequestLine: method, target and HTTP/1.1 only, ending in CRLF', (t) => {
  const rows: [string, { head: boolean; target: string } | undefined][] = [
    ['GET /live/a/b/1.m4s HTTP/1.1\r\nHost: x\r\n\r\n', { head: false, target: '/live/a/b/1.m4s' }],
    ['HEAD /live/a/b/1.m4s?x=1 HTTP/1.1\r\nHost: x\r\n\r\n', { head: true, target: '/live/a/b/1.m4s?x=1' }],
    ['GET /live/a/b/1.m4s HTTP/1.0\r\nHost: x\r\n\r\n', undefined],
    ['GET /live/a/b/1.m4s  HTTP/1.1\r\nHost: x\r\n\r\n', undefined],
    ['GET /live/a/b/1.m4s HTTP/1.1 \r\nHost: x\r\n\r\n', undefined],
    ['GET /live/a/b/1.m4s\r\n\r\n', undefined],
  ];
  for (const [input, want] of rows) {
    const buf = Buffer.from(input, 'latin1');
    const line = parseRequestLine(buf, buf.indexOf('\r\n\r\n'));
    const got = line && { head: line.head, target: buf.toString('latin1', line.start, line.end) };
    t.deepEqual(got, want, JSON.stringify(input));
    if (line) t.is(buf.toString('latin1', line.headersAt, line.headersAt + 5), 'Host:');
  }
});

test('visibleAscii and splitTarget', (t) => {
  t.true(visibleAscii(Buffer.from('/live/a?b=c'), 0, 11));
  t.false(visibleAscii(Buffer.from('/live/a b'), 0, 9));
  t.false(visibleAscii(Buffer.from('/live/\x01'), 0, 7));
  t.false(visibleAscii(Buffer.from('/live/\xe9', 'latin1'), 0, 7));
  t.true(visibleAscii(Buffer.from('/live/ x'), 0, 6), 'only the range asked is looked at');
  t.deepEqual(splitTarget('/live/a/b.m3u8?_HLS_msn=3&_HLS_part=1'), {
    pathname: '/live/a/b.m3u8',
    query: '_HLS_msn=3&_HLS_part=1',
  });
  t.deepEqual(splitTarget('/live/a/b.m3u8'), { pathname: '/live/a/b.m3u8', query: '' });
  t.deepEqual(splitTarget('/live/a?'), { pathname: '/live/a', query: '' });
});

const fields = (over: Partial<HeaderFields> = {}): HeaderFields => ({
  hop: undefined,
  onlyIfCached: false,
  ua: '',
  range: undefined,
  ifNoneMatch: undefined,
  ...over,
});

test("parseHeaders: what the fast path reads, and what makes a request Node's (undefined)", (t) => {
  const rows: [string, HeaderFields | undefined][] = [
    ['Host: r', fields()],
    ['Host: r\r\nUser-Agent:  hls.js 1.7 ', fields({ ua: 'hls.js 1.7' })],
    ['host: r\r\nCache-Control: only-if-cached', fields({ onlyIfCached: true })],
    ['Host: r\r\nCache-Control: no-cache', fields()],
    ['Host: r\r\nX-Ringcast-Hop: tok', fields({ hop: 'tok' })],
    ['Host: r\r\nX-Ringcast-Hop: a\r\nX-Ringcast-Hop: b', fields({ hop: '' })],
    ['Host: r\r\nRange: bytes=0-9', fields({ range: 'bytes=0-9' })],
    ['Host: r\r\nIf-None-Match: "a"', fields({ ifNoneMatch: '"a"' })],
    ['Host: r\r\nConnection: Keep-Alive', fields()],
    ['Host: r\r\nX-Anything: \t', fields()],
    ['User-Agent: x', undefined],
    ['', undefined],
    ['Host: r\r\nConnection: close', undefined],
    ['Host: r\r\nRange: bytes=0-1\r\nRange: bytes=2-3', undefined],
    ['Host: r\r\nIf-None-Match: "a"\r\nIf-None-Match: "b"', undefined],
    ['Host: r\r\nContent-Length: 0', undefined],
    ['Host: r\r\nTransfer-Encoding: chunked', undefined],
    ['Host: r\r\nExpect: 100-continue', undefined],
    ['Host: r\r\nUpgrade: websocket', undefined],
    ['Host : r', undefined],
    ['Host: r\r\n continued', undefined],
    ['Host: r\r\nX-A: b\nc', undefined],
    ['Host: r\r\nX-A: b\x01', undefined],
    ['Host: r\r\nX(A): b', undefined],
  ];
  for (const [block, want] of rows) t.deepEqual(parseHeaders(block), want, JSON.stringify(block));
});

test('parseRange: one bytes= range, clipped; unsatisfiable; else ignored', (t) => {
  const rows: [string, number, ReturnType<typeof parseRange>][] = [
    ['bytes=0-9', 100, [0, 9]],
    ['bytes=90-200', 100, [90, 99]],
    ['bytes=-10', 100, [90, 99]],
    ['bytes=-500', 100, [0, 99]],
    ['bytes=5-', 100, [5, 99]],
    [' bytes=1-1 ', 100, [1, 1]],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=9-3', 100, undefined],
    ['bytes=-', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    ['bytes=a-b', 100, undefined],
  ];
  for (const [header, size, want] of rows) t.deepEqual(parseRange(header, size), want, header);
});

test('etagMatches: strong or weak, in a list, or *', (t) => {
  const matching = ['"b"', 'W/"b"', '"a", "b"', ' * '];
  const other = ['"a"', 'b', '', 'W/"a"'];
  for (const header of matching) t.true(etagMatches(header, '"b"'), header);
  for (const header of other) t.false(etagMatches(header, '"b"'), header);
});
