import test from 'ava';
import { mediaNumbers, StreamWindow } from '../../relay/stream-window.ts';
import { ViewerTracker } from '../../relay/viewer-tracker.ts';

test('media numbers of segment and part names', (t) => {
  t.deepEqual(mediaNumbers('42.m4s'), { msn: 42, part: undefined });
  t.deepEqual(mediaNumbers('42.3.m4s'), { msn: 42, part: 3 });
  t.deepEqual(mediaNumbers('7.ts'), { msn: 7, part: undefined });
  t.is(mediaNumbers('init-1a2b3c4d.mp4'), undefined);
  t.is(mediaNumbers('index.m3u8'), mediaNumbers('x'));
  t.is(mediaNumbers('12345678901.m4s'), undefined);
});

test('cold: nothing known admits everything; then announcements bound the window', (t) => {
  const w = new StreamWindow();
  t.true(w.admits('s', '720p', '999999.m4s'));
  w.announced('s', '720p', 100);
  t.true(w.admits('s', '720p', '103.m4s'));
  t.false(w.admits('s', '720p', '104.m4s'));
  t.true(w.admits('s', '720p', '68.m4s'));
  t.false(w.admits('s', '720p', '67.m4s'));
  t.true(w.admits('s', '720p', '101.63.m4s'));
  t.false(w.admits('s', '720p', '101.64.m4s'));
  t.true(w.admits('s', '720p', 'init-00000000.mp4'));
  // Another rendition of the stream, never announced: judged by the stream's others.
  t.false(w.admits('s', '1080p', '999999.m4s'));
  t.true(w.admits('s', '1080p', '100.m4s'));
  // Another stream: cold.
  t.true(w.admits('t', '720p', '999999.m4s'));
});

test('a playlist narrows the tail and a restarted stream (numbers from 0) is admitted at once', (t) => {
  const w = new StreamWindow();
  w.listed(
    's',
    '720p',
    '#EXTM3U\n#EXTINF:2,\n200.m4s\n#EXTINF:2,\n201.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="202.0.m4s"\n',
  );
  t.true(w.admits('s', '720p', '197.m4s'));
  t.false(w.admits('s', '720p', '196.m4s'));
  t.true(w.admits('s', '720p', '205.m4s'));
  t.false(w.admits('s', '720p', '206.m4s'));
  t.is(w.newest('s', '720p'), 202);
  // The origin restarted the stream: its first announcement is msn 0.
  w.announced('s', '720p', 0);
  t.true(w.admits('s', '720p', '0.m4s'));
  t.true(w.admits('s', '720p', '1.2.m4s'));
  // Then its first playlist.
  w.listed('s', '720p', '#EXTM3U\n#EXTINF:2,\n0.m4s\n#EXTINF:2,\n1.m4s\n');
  t.false(w.admits('s', '720p', '200.m4s'));
});

test('viewer sessions: at most 8 per address and stream, freed again when they go stale', (t) => {
  const v = new ViewerTracker();
  for (let i = 0; i < 50; i++) v.seen('s', '720p', `x${i}`, '10.0.0.1', 0);
  for (let i = 0; i < 3; i++) v.seen('s', '720p', `y${i}`, '10.0.0.2', 0);
  t.is(v.counts(0).get('s'), 11);
  // Stale after 10 s and pruned (the relay prunes every 5 s): the address may bring 8 new sessions.
  t.is(v.counts(15_000).size, 0);
  for (let i = 0; i < 20; i++) v.seen('s', '720p', `z${i}`, '10.0.0.1', 20_000);
  t.is(v.counts(20_000).get('s'), 8);
});

test('a delta playlist (EXT-X-SKIP) moves the top of the window, not its tail', (t) => {
  const w = new StreamWindow();
  w.listed('s', '720p', '#EXTM3U\n#EXTINF:2,\n100.m4s\n#EXTINF:2,\n101.m4s\n#EXTINF:2,\n110.m4s\n');
  w.listed(
    's',
    '720p',
    '#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=10\n#EXTINF:2,\n111.m4s\n#EXTINF:2,\n112.m4s\n',
  );
  t.true(w.admits('s', '720p', '100.m4s'));
  t.true(w.admits('s', '720p', '115.m4s'));
  // Without a full playlist before it: the announced tail.
  w.listed('t', '720p', '#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=10\n#EXTINF:2,\n111.m4s\n');
  t.true(w.admits('t', '720p', '80.m4s'));
  t.false(w.admits('t', '720p', '75.m4s'));
});
