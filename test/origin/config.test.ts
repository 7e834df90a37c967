import test from 'ava';
import { ConfigError } from '../../common/config.ts';
import { loadOriginConfig, parseLadder } from '../../origin/config.ts';

test('defaults: rtmp source needs a key; testsrc does not', (t) => {
  const err = t.throws(() => loadOriginConfig([], {}), { instanceOf: ConfigError });
  t.regex(err.message, /streamKey/);
  const c = loadOriginConfig(['--source', 'testsrc'], {});
  t.is(c.port, 8090);
  t.is(c.rtmpPort, 1935);
  t.is(c.streamId, 'demo');
  t.is(c.segmentSeconds, 2);
  t.is(parseLadder(c.ladder).length, 3);
});

test('flags and environment set keys; port 0 is allowed', (t) => {
  const c = loadOriginConfig(['--rtmp-port', '0', '--port', '0', '--stream-key', 'abc_DEF-1'], {
    RINGCAST_FPS: '15',
  });
  t.is(c.rtmpPort, 0);
  t.is(c.port, 0);
  t.is(c.fps, 15);
  t.is(c.streamKey, 'abc_DEF-1');
});

test('ladder: parsed into rungs; a bad item is named', (t) => {
  t.deepEqual(parseLadder('180p:320x180:300k:64k, 90p:160x90:150k:48k'), [
    { name: '180p', width: 320, height: 180, videoBitsPerSecond: 300_000, audioBitsPerSecond: 64_000 },
    { name: '90p', width: 160, height: 90, videoBitsPerSecond: 150_000, audioBitsPerSecond: 48_000 },
  ]);
  const err = t.throws(
    () => loadOriginConfig(['--source', 'testsrc', '--ladder', '720p:1280x720:3000k:128k,oops:12x:1k'], {}),
    { instanceOf: ConfigError },
  );
  t.regex(err.message, /'ladder' item 'oops:12x:1k'/);
  t.throws(() => parseLadder('a:321x180:300k:64k'), { message: /even/ });
  t.throws(() => parseLadder('a:320x180:300k:64k,a:160x90:100k:48k'), { message: /unique/ });
});

test('every bad key is reported at once', (t) => {
  const err = t.throws(
    () =>
      loadOriginConfig(
        ['--source', 'rtmp', '--stream-key', 'bad key!', '--stream-id', '../x', '--testsrc-size', 'big'],
        {},
      ),
    { instanceOf: ConfigError },
  );
  t.regex(err.message, /'streamKey'/);
  t.regex(err.message, /'streamId'/);
  t.regex(err.message, /'testsrcSize'/);
});
