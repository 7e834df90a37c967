import test from 'ava';
import { CoordinatorBases } from '../../common/coordinator-bases.ts';

test('bases are trimmed once; next() moves on and order() starts there; one base never moves', (t) => {
  const bases = new CoordinatorBases(['http://a:1/', 'http://b:2//', '']);
  t.is(bases.size, 2);
  t.is(bases.current, 'http://a:1');
  t.true(bases.next());
  t.is(bases.current, 'http://b:2');
  t.deepEqual(bases.order(), ['http://b:2', 'http://a:1']);
  t.true(bases.next());
  t.is(bases.current, 'http://a:1');
  const one = new CoordinatorBases(['http://only:1']);
  t.false(one.next());
  t.is(one.current, 'http://only:1');
});

test('call() tries each base once, keeps the one that answered, and stops at a 4xx verdict', async (t) => {
  const bases = new CoordinatorBases(['http://a', 'http://b', 'http://c']);
  const asked: string[] = [];
  const answer = await bases.call(async (base) => {
    asked.push(base);
    if (base !== 'http://b') throw new Error('connect ECONNREFUSED');
    return 'ok';
  });
  t.is(answer, 'ok');
  t.deepEqual(asked, ['http://a', 'http://b']);
  t.is(bases.current, 'http://b');
  asked.length = 0;
  await t.throwsAsync(
    bases.call(async (base) => {
      asked.push(base);
      throw new Error('HTTP 403');
    }),
  );
  t.deepEqual(asked, ['http://b'], 'a 4xx is the verdict: no other base is asked');
});
