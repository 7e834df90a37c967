import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import HLS from 'hls-parser';
import { silentLogger } from '../../common/log.ts';
import { runFfmpeg } from '../../harness/ffmpeg.ts';
import { getText, waitFor } from '../../harness/wait.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig } from '../../origin/config.ts';

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;

test.serial(
  'segmentFormat=ts: MPEG-TS segments without EXT-X-MAP, numbered and timed as ours, read by ffmpeg',
  async (t) => {
    // Reads better whole: one origin started for this format, its playlist, a probed segment, a player.
    const config = loadOriginConfig(
      [],
      {},
      {
        port: 0,
        rtmpPort: 0,
        source: 'testsrc',
        testsrcSize: '320x180',
        ladder: '180p:320x180:300k:64k,90p:160x90:150k:48k',
        fps: 15,
        segmentFormat: 'ts',
      },
    );
    const origin = new Origin(config, { log: silentLogger() });
    t.teardown(() => origin.close());
    const { url } = await origin.start();
    const text = await waitFor(
      async () => {
        const res = await fetch(`${url}/live/demo/90p/index.m3u8`);
        const body = res.status === 200 ? await res.text() : '';
        return (body.match(/#EXTINF/g) ?? []).length >= 3 ? body : undefined;
      },
      { timeoutMs: 60_000, what: '3 TS segments' },
    );
    t.notRegex(text, /#EXT-X-MAP/);
    const pl = HLS.parse(text) as Media;
    t.true(pl.segments.every((s) => /^\d+\.ts$/.test(s.uri) && s.programDateTime instanceof Date));
    const res = await fetch(`${url}/live/demo/90p/${pl.segments[1]!.uri}`);
    t.is(res.headers.get('content-type'), 'video/mp2t');
    const bytes = Buffer.from(await res.arrayBuffer());
    t.is(bytes[0], 0x47, 'TS sync byte');
    const dir = mkdtempSync(join(tmpdir(), 'ringcast-ts-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'seg.ts'), bytes);
    const format = execFileSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'format=format_name', '-of', 'csv=p=0', join(dir, 'seg.ts')],
      {
        encoding: 'utf8',
      },
    );
    t.is(format.trim(), 'mpegts');
    await getText(`${url}/live/demo/master.m3u8`);
    const reader = runFfmpeg(['-i', `${url}/live/demo/master.m3u8`, '-t', '4', '-f', 'null', '-']);
    t.is(await reader.exited, 0, reader.stderr());
  },
);
