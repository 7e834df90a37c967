import test from 'ava';
import { parseLivePath } from '../../common/names.ts';

test('ring keys follow the design: segment path, rendition for playlists and parts, stream for master', (t) => {
  t.is(parseLivePath('/live/demo/720p/42.m4s').ringKey, 'demo/720p/42.m4s');
  t.is(parseLivePath('/live/demo/720p/init-0a1b2c3d.mp4').ringKey, 'demo/720p/init-0a1b2c3d.mp4');
  t.is(parseLivePath('/live/demo/720p/index.m3u8').ringKey, 'demo/720p');
  t.is(parseLivePath('/live/demo/720p/42.3.m4s').ringKey, 'demo/720p');
  t.is(parseLivePath('/live/demo/master.m3u8').ringKey, 'demo');
  t.is(parseLivePath('/live/demo/720p/42.m4s').kind, 'segment');
  t.is(parseLivePath('/live/demo/720p/init-0a.mp4').kind, 'init');
});

const bad = [
  '/live/../etc/passwd',
  '/live/demo/../../etc/passwd',
  '/live/demo/720p/..',
  '/live/demo/720p/%2e%2e',
  '/live/demo/%2e%2e/passwd.m4s',
  '/live/demo%2F720p/1.m4s',
  '/live/demo/720p/1.m4s%00',
  '/live/demo/720p/%zz',
  '/live/demo/720p/1.exe',
  '/live/demo/720p/.hidden.m4s',
  `/live/demo/720p/${'a'.repeat(200)}.m4s`,
  `/live/${'s'.repeat(65)}/720p/1.m4s`,
  '/live/demo/720p/a b.m4s',
  '/live/demo',
  '/live/demo/720p/x/1.m4s',
  '/other/demo/720p/1.m4s',
  '/live/de mo/master.m3u8',
];

for (const path of bad) {
  test(`refuses ${path.slice(0, 60)}`, (t) => {
    const err = t.throws(() => parseLivePath(path));
    t.is((err as { code?: string }).code, 'RC_BAD_PATH');
  });
}
