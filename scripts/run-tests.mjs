#!/usr/bin/env node
// The project's one test command (`npm test`): type check, lint, then every ava test with the TAP
// reporter, ending with the line CI reads: `N passed, N failed`. Extra arguments go to ava.
import { spawn } from 'node:child_process';

function run(cmd, args, { tap = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    const counts = { pass: 0, fail: 0, skip: 0 };
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      if (!tap) return;
      buffer += chunk.toString();
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = /^# (pass|fail|skip) (\d+)$/.exec(line.trim());
        if (m) counts[m[1]] = Number(m[2]);
        nl = buffer.indexOf('\n');
      }
    });
    child.on('close', (code) => resolve({ code, counts }));
  });
}

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;

for (const [name, cmd, args] of [
  ['typecheck', bin('tsc'), ['-p', '.']],
  ['lint', bin('biome'), ['check', '.']],
]) {
  process.stdout.write(`\n== ${name}\n`);
  const { code } = await run(cmd, args);
  if (code === 0) passed++;
  else {
    failed++;
    process.stdout.write(`${name} FAILED (exit ${code})\n`);
  }
}

// Tests that run live transcodes and browsers run one file at a time after the rest: side by side on
// two cores they would measure the machine's load, not Ringcast's latency and stalls.
const HEAVY = ['test/e2e/**/*.test.ts', 'test/drills/**/*.test.ts', 'test/origin/origin.test.ts',
  'test/origin/origin-testsrc.test.ts', 'test/origin/streams.test.ts', 'test/origin/ladder.test.ts',
  'test/origin/ts-format.test.ts', 'test/origin/ll-playlist.test.ts', 'test/relay/ll-relay.test.ts'];
const extra = process.argv.slice(2);
const phases = extra.length
  ? [['tests (ava)', ['--tap', ...extra]]]
  : [
      ['tests (ava)', ['--tap', 'test/**/*.test.ts', ...HEAVY.map((g) => `!${g}`)]],
      ['end-to-end tests (ava, one file at a time)', ['--tap', '--concurrency', '1', ...HEAVY]],
    ];
for (const [name, args] of phases) {
  process.stdout.write(`\n== ${name}\n`);
  const ava = await run(bin('ava'), args, { tap: true });
  passed += ava.counts.pass;
  failed += ava.counts.fail;
  skipped += ava.counts.skip;
  // ava exits non-zero without a `# fail` count when a file crashes or times out: count that too.
  if (ava.code !== 0 && ava.counts.fail === 0) failed++;
}

process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
