import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startDemoCluster } from '../../cli/demo.ts';

// Without --data-dir the demo used /tmp/ringcast-demo-<pid>, a name anyone on the machine can make in
// advance (here: a symlink to a directory of the "attacker"): the generated secret and the logs went
// there. The demo is made to fail right after choosing its directory (its coordinator's port is taken).
test('without --data-dir, a directory planted under the pid-derived name is not used', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'ringcast-demo-dir-test-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  // This test file runs in a process of its own: its environment is ours to change.
  const { TMPDIR, RINGCAST_CLUSTER_SECRET } = process.env;
  process.env.TMPDIR = tmp;
  delete process.env.RINGCAST_CLUSTER_SECRET; // so the demo generates and writes a secret
  t.teardown(() => {
    Object.assign(process.env, { TMPDIR, RINGCAST_CLUSTER_SECRET });
    if (TMPDIR === undefined) delete process.env.TMPDIR;
    if (RINGCAST_CLUSTER_SECRET === undefined) delete process.env.RINGCAST_CLUSTER_SECRET;
  });
  const planted = join(tmp, 'elsewhere');
  mkdirSync(planted);
  symlinkSync(planted, join(tmp, `ringcast-demo-${process.pid}`));

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as { port: number }).port;
  const config = {
    relays: 1,
    host: '127.0.0.1',
    port,
    rtmpPort: 0,
    source: 'testsrc',
    streamKey: '',
    clusterSecretFile: '',
    ladder: '',
    dataDir: '',
    lowLatency: false,
    tls: false,
    rtmpsPort: 0,
  } as const;
  await t.throwsAsync(startDemoCluster(config, { say: () => {} }));
  t.deepEqual(readdirSync(planted), [], 'nothing written into the planted directory');
});
