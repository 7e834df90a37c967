import { join, resolve } from 'node:path';
import test from 'ava';
import { RingcastError } from '../../common/errors.ts';
import { resolveStaticPath } from '../../coordinator/static-files.ts';

const ROOT = resolve('/srv/player');

/** Segments as express gives them for `/player/*file` (decoded), then the file or the refusal. */
const cases: [string[], string | 'RC_BAD_PATH'][] = [
  [[], join(ROOT, 'index.html')],
  [[''], join(ROOT, 'index.html')],
  [['index.html'], join(ROOT, 'index.html')],
  [['js', 'app.js'], join(ROOT, 'js', 'app.js')],
  [['js', ''], join(ROOT, 'js', 'index.html')],
  [['..', 'package.json'], 'RC_BAD_PATH'],
  [['a', '../../package.json'], 'RC_BAD_PATH'],
  [['.hidden'], 'RC_BAD_PATH'],
  [['', 'x'], 'RC_BAD_PATH'],
  [['a..b.js'], 'RC_BAD_PATH'],
  [['a\u0000.js'], 'RC_BAD_PATH'],
  [['x'.repeat(129)], 'RC_BAD_PATH'],
];

for (const [segments, want] of cases) {
  test(`resolveStaticPath ${JSON.stringify(segments)}`, (t) => {
    if (want === 'RC_BAD_PATH') {
      const err = t.throws(() => resolveStaticPath(ROOT, segments), { instanceOf: RingcastError });
      t.is(err?.code, 'RC_BAD_PATH');
    } else t.is(resolveStaticPath(ROOT, segments), want);
  });
}
