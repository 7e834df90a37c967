import { readFileSync } from 'node:fs';
import test from 'ava';
import { ERROR_CODES, RingcastError } from '../../common/errors.ts';

test('every error code is documented in docs/errors.md with its status, and nothing else is', (t) => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `(RC_[A-Z_]+)` \| (\d{3}) \|/gm)) documented.set(m[1]!, Number(m[2]));
  for (const [code, def] of Object.entries(ERROR_CODES)) t.is(documented.get(code), def.status, code);
  t.is(documented.size, Object.keys(ERROR_CODES).length);
});

test('errors serialise as {"error":{"code","message"}}', (t) => {
  const e = new RingcastError('RC_BAD_PATH', 'nope');
  t.deepEqual(JSON.parse(JSON.stringify(e)), { error: { code: 'RC_BAD_PATH', message: 'nope' } });
  t.is(e.status, 400);
});
