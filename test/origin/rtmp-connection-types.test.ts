import test from 'ava';
import { type FlvMetaFields, type RtmpSourceMeta, sourceMetaOf } from '../../origin/rtmp-connection-types.ts';

const meta = (o: Partial<FlvMetaFields>): FlvMetaFields => ({
  videoWidth: 1280,
  videoHeight: 720,
  videoFramerate: 29.97,
  videoCodec: 7,
  audioCodec: 10,
  ...o,
});

test('sourceMetaOf: the publisher media from onMetaData, FLV codec ids named', (t) => {
  const rows: [FlvMetaFields, RtmpSourceMeta | undefined][] = [
    [meta({ videoWidth: 0 }), undefined],
    [meta({ videoHeight: 0 }), undefined],
    [meta({}), { width: 1280, height: 720, fps: 30, videoCodec: 'h264', audioCodec: 'aac' }],
    [
      meta({ videoCodec: 4, audioCodec: 2, videoFramerate: 0 }),
      { width: 1280, height: 720, fps: 0, videoCodec: 'vp6', audioCodec: 'mp3' },
    ],
    [
      meta({ audioCodec: 0 }),
      { width: 1280, height: 720, fps: 30, videoCodec: 'h264', audioCodec: undefined },
    ],
    [
      meta({ videoCodec: 99, audioCodec: 42 }),
      { width: 1280, height: 720, fps: 30, videoCodec: 'id 99', audioCodec: 'id 42' },
    ],
  ];
  for (const [input, expected] of rows) t.deepEqual(sourceMetaOf(input), expected);
});
