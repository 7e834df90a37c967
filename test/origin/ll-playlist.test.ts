import test from 'ava';
import HLS from 'hls-parser';
import { waitFor } from '../../harness/wait.ts';
import { advancePartLimit } from '../../origin/ll-hls-reads.ts';
import { mediaPlaylistText, skippedSegments } from '../../origin/playlist-writer.ts';
import type { PublishedSegment } from '../../origin/segment-types.ts';
import { startOrigin, transcoderPids } from './origin-kit.ts';

// LL-HLS playlists against RFC 8216bis: part durations, server control, blocking reload answers
// (including 400 and 503), delta updates, rendition reports, and preload hints held then served whole.

type Media = InstanceType<typeof HLS.types.MediaPlaylist>;
// hls-parser's strict mode checks the LL-HLS rules it knows (CAN-SKIP-UNTIL, HOLD-BACK, PART-HOLD-BACK,
// EXT-X-PART only near the end, ...) and throws on a violation.
HLS.setOptions({ strictMode: true });

const segment = (msn: number, duration = 2): PublishedSegment => ({
  msn,
  file: `${msn}.m4s`,
  duration,
  programDateTime: new Date(1_700_000_000_000 + msn * 2000),
  discontinuity: false,
  discontinuitySequence: 0,
  size: 1,
  sha256: '',
  initName: 'init-00000000.mp4',
  parts: Array.from({ length: 10 }, (_, i) => ({
    data: Buffer.alloc(1),
    duration: 0.2,
    independent: i === 0,
  })),
});

test('delta update: segments ending CAN-SKIP-UNTIL (6 target durations) before the end become EXT-X-SKIP', (t) => {
  const segments = Array.from({ length: 10 }, (_, i) => segment(20 + i));
  const partial = {
    msn: 30,
    parts: segments[0]!.parts.slice(0, 3),
    programDateTime: new Date(),
    discontinuity: false,
  };
  const ll = { partTarget: 0.23, partial, nextMsn: 30, initName: 'init-00000000.mp4' };
  const full = mediaPlaylistText({ segments, targetDuration: 2, ended: false, lowLatency: ll });
  const delta = mediaPlaylistText({
    segments,
    targetDuration: 2,
    ended: false,
    lowLatency: { ...ll, skip: true },
  });
  t.regex(
    full,
    /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,HOLD-BACK=6,PART-HOLD-BACK=0.69/,
  );
  t.notRegex(full, /EXT-X-SKIP/);
  // 0.6 s of parts + 6 whole segments (12.6 s) come after segment 23's end: 20..23 are skipped.
  t.is(skippedSegments(segments, 0.6, 12), 4);
  t.regex(delta, /#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n/);
  t.regex(delta, /#EXT-X-MEDIA-SEQUENCE:20\n/);
  const parsedDelta = HLS.parse(delta) as Media;
  const parsedFull = HLS.parse(full) as Media;
  t.deepEqual(
    parsedDelta.segments.map((s) => s.uri),
    parsedFull.segments.slice(4).map((s) => s.uri),
  );
  t.is(skippedSegments(segments.slice(0, 6), 0.6, 12), 0, 'a 12 s window has nothing to skip');
});

test('rendition reports name the other renditions with LAST-MSN and LAST-PART', (t) => {
  const text = mediaPlaylistText({
    segments: [segment(3)],
    targetDuration: 2,
    ended: false,
    lowLatency: {
      partTarget: 0.23,
      nextMsn: 4,
      reports: [{ uri: '../90p/index.m3u8', lastMsn: 4, lastPart: 2 }],
    },
  });
  t.regex(text, /#EXT-X-RENDITION-REPORT:URI="..\/90p\/index.m3u8",LAST-MSN=4,LAST-PART=2\n/);
  t.regex(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="4.0.m4s"/);
});

test('the Advance Part Limit is 3 / PART-TARGET parts under a 1 s target, else 3', (t) => {
  t.is(advancePartLimit(0.23), 13);
  t.is(advancePartLimit(0.5), 6);
  t.is(advancePartLimit(1), 3);
});

// One live LL-HLS origin at 30 fps for the tests below. A 10-segment window (20 s) so delta updates have
// something to skip (CAN-SKIP-UNTIL is 12 s).
let live: Awaited<ReturnType<typeof startOrigin>> | undefined;
let window: Promise<{ playlistUrl: string; url: string; text: string; pl: Media }> | undefined;

/** The origin, once its playlist holds 8 segments plus parts of the next (started on first use). */
function fullWindow() {
  window ??= (async () => {
    live = await startOrigin({
      fps: 30,
      source: 'testsrc',
      streamKey: `llkey${process.pid}`,
      lowLatency: true,
      windowSegments: 10,
    });
    const playlistUrl = `${live.url}/live/demo/180p/index.m3u8`;
    const text = await waitFor(
      async () => {
        const r = await get(playlistUrl);
        return r.status === 200 && (r.text.match(/#EXTINF/g) ?? []).length >= 8 ? r.text : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: '8 segments' },
    );
    return { playlistUrl, url: live.url, text, pl: HLS.parse(text) as Media };
  })();
  return window;
}

test.after.always(() => live?.origin.close());

const get = async (u: string) => {
  const res = await fetch(u);
  return { status: res.status, text: await res.text() };
};
const parse = (text: string) => HLS.parse(text) as Media;

test.serial('live at 30 fps: server control, part durations, INDEPENDENT, hint and reports', async (t) => {
  const { text, pl } = await fullWindow();
  t.is(pl.version, 9);
  // PART-TARGET from the parts produced: 6 frames at 30 fps (0.2 s) + 15 %.
  const partTarget = pl.partTargetDuration!;
  t.is(partTarget, 0.23);
  const sc = pl.lowLatencyCompatibility!;
  t.true(sc.canBlockReload);
  t.true(sc.partHoldBack >= 3 * partTarget - 1e-9, `PART-HOLD-BACK ${sc.partHoldBack}`);
  t.true(sc.holdBack >= 3 * pl.targetDuration);
  t.true(sc.canSkipUntil >= 6 * pl.targetDuration);

  // Every part within PART-TARGET and at least 85 % of it, except INDEPENDENT parts and a segment's last.
  let checked = 0;
  for (const s of pl.segments) {
    const parts = s.parts.filter((p) => !p.hint);
    parts.forEach((p, i) => {
      t.true(p.duration! <= partTarget, `${p.uri} ${p.duration} > ${partTarget}`);
      const last = s.uri !== undefined && i === parts.length - 1;
      if (!p.independent && !last) t.true(p.duration! >= 0.85 * partTarget, `${p.uri} ${p.duration}`);
      checked++;
    });
    // INDEPENDENT on exactly the keyframe part: the first of each segment.
    if (parts.length > 0) t.true(parts[0]!.independent, `${parts[0]!.uri} starts with a keyframe`);
    if (s.uri && parts.length > 0) {
      const sum = parts.reduce((a, p) => a + p.duration!, 0);
      t.true(
        Math.abs(sum - s.duration) < 0.01,
        `segment ${s.mediaSequenceNumber}: parts ${sum} vs ${s.duration}`,
      );
    }
  }
  t.true(checked >= 20, `${checked} parts checked`);
  t.regex(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="\d+\.\d+\.m4s"/);
  t.regex(text, /#EXT-X-RENDITION-REPORT:URI="..\/90p\/index.m3u8",LAST-MSN=\d+,LAST-PART=\d+/);
});

test.serial(
  'live: a delta update replaces the segments before the skip boundary with EXT-X-SKIP',
  async (t) => {
    const { playlistUrl } = await fullWindow();
    const delta = await get(`${playlistUrl}?_HLS_skip=YES`);
    t.is(delta.status, 200);
    const skipped = Number(/#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)/.exec(delta.text)?.[1] ?? 0);
    t.true(skipped >= 1, delta.text);
    const dpl = parse(delta.text);
    t.is(dpl.mediaSequenceBase, parse((await get(playlistUrl)).text).mediaSequenceBase);
    t.is((await get(`${playlistUrl}?_HLS_skip=NO`)).status, 400);
  },
);

test.serial(
  'live: a blocking reload for the next part is answered once listed; 400 when too far or malformed',
  async (t) => {
    const { playlistUrl } = await fullWindow();
    const edge = parse((await get(playlistUrl)).text).segments.at(-1)!;
    const edgeParts = edge.parts.filter((p) => !p.hint).length;
    const t0 = Date.now();
    const blocked = await get(`${playlistUrl}?_HLS_msn=${edge.mediaSequenceNumber}&_HLS_part=${edgeParts}`);
    const heldMs = Date.now() - t0;
    t.is(blocked.status, 200);
    const bpl = parse(blocked.text);
    const has = bpl.segments.some(
      (s) =>
        s.mediaSequenceNumber > edge.mediaSequenceNumber ||
        (s.mediaSequenceNumber === edge.mediaSequenceNumber &&
          s.parts.filter((p) => !p.hint).length > edgeParts),
    );
    t.true(has, 'the answer has the part asked for');
    t.true(heldMs < 1000, `held ${heldMs} ms for one part`);
    t.log(`blocking reload for the next part held ${heldMs} ms`);

    // 400: more than two segments ahead, a part past the Advance Part Limit, _HLS_part alone, junk.
    const lastMsn = bpl.segments.filter((s) => s.uri).at(-1)!.mediaSequenceNumber;
    t.is((await get(`${playlistUrl}?_HLS_msn=${lastMsn + 3}`)).status, 400);
    t.is((await get(`${playlistUrl}?_HLS_msn=${lastMsn + 1}&_HLS_part=40`)).status, 400);
    t.is((await get(`${playlistUrl}?_HLS_part=1`)).status, 400);
    t.is((await get(`${playlistUrl}?_HLS_msn=x`)).status, 400);
  },
);

test.serial('live: the preload-hinted part is held until complete, then sent whole and listed', async (t) => {
  const { playlistUrl, url } = await fullWindow();
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec((await get(playlistUrl)).text)![1]!;
  const h0 = Date.now();
  const res = await fetch(`${url}/live/demo/180p/${hint}`);
  const body = Buffer.from(await res.arrayBuffer());
  t.log(`hinted part ${hint} held ${Date.now() - h0} ms, ${body.length} bytes`);
  t.is(res.status, 200);
  // Content-Length = the part's bytes, moof then mdat.
  t.is(Number(res.headers.get('content-length')), body.length);
  t.is(body.toString('latin1', 4, 8), 'moof');
  const moofSize = body.readUInt32BE(0);
  t.is(body.toString('latin1', moofSize + 4, moofSize + 8), 'mdat');
  t.is(moofSize + body.readUInt32BE(moofSize), body.length, 'moof + mdat, nothing missing');
  const again = Buffer.from(await (await fetch(`${url}/live/demo/180p/${hint}`)).arrayBuffer());
  t.deepEqual(again, body, 'the same bytes once listed');
  const [hmsn, hpart] = hint.split('.').map(Number) as [number, number];
  const listed = parse((await get(`${playlistUrl}?_HLS_msn=${hmsn}&_HLS_part=${hpart}`)).text);
  t.true(
    listed.segments.some((s) => s.parts.some((p) => !p.hint && p.uri === hint)),
    'the part is listed',
  );
});

test.serial(
  'live: with the transcoder stopped, a blocking reload ends in 503 after 3 target durations',
  async (t) => {
    const { playlistUrl, pl } = await fullWindow();
    const pids = transcoderPids();
    t.true(pids.length >= 1, 'transcoder found');
    const last = parse((await get(playlistUrl)).text)
      .segments.filter((s) => s.uri)
      .at(-1)!;
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const s0 = Date.now();
      const r = await fetch(`${playlistUrl}?_HLS_msn=${last.mediaSequenceNumber + 2}`);
      const waited = Date.now() - s0;
      t.is(r.status, 503);
      t.is(((await r.json()) as { error: { code: string } }).error.code, 'RC_BLOCKING_TIMEOUT');
      t.true(
        waited >= 3 * pl.targetDuration * 1000 - 100 && waited < 3 * pl.targetDuration * 1000 + 1500,
        `${waited} ms`,
      );
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // The supervisor may have replaced a stalled transcoder already.
        }
      }
    }
  },
);
