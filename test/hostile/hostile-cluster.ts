/** The one small cluster a hostile-input file starts for itself, and the checks its groups end with. */
import { createServer, type Server } from 'node:http';
import test, { type ExecutionContext } from 'ava';
import { startTestCluster, type TestCluster, waitForLive } from '../../harness/cluster.ts';
import { getText } from '../../harness/wait.ts';
import type { OutcomeLog } from './hostile-kit.ts';

/** Coordinator, origin with the test pattern (tiny ladder) and `relays` relays, stream `demo` live. */
export async function startHostileCluster(relays: number): Promise<TestCluster> {
  const c = await startTestCluster({ relays });
  try {
    await waitForLive(c, 'demo', 2);
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

/**
 * Registers a hostile file's lifecycle: its cluster started before its tests (handed to `use`), stopped
 * after, and its outcomes reported. Call `endsPlaying()` after the file's last group: that test checks
 * the live stream still plays through the relay and every part runs.
 */
export function hostileFile(
  name: string,
  relays: number,
  log: OutcomeLog,
  use: (c: TestCluster) => void,
): { endsPlaying: () => void } {
  let cluster: TestCluster | undefined;
  test.before(async () => {
    cluster = await startHostileCluster(relays);
    use(cluster);
  });
  test.after.always(async () => {
    await cluster?.stop();
    reportOutcomes(log, name);
  });
  return {
    endsPlaying: () =>
      test.serial(
        'after these cases the live stream still plays through the relay with the origin bytes',
        async (t) => {
          await stillPlays(t, cluster!);
          t.log(`${log.outcomes.length} cases, ${log.outcomes.filter((o) => !o.ok).length} not contained`);
          await allAlive(t, cluster!);
        },
      ),
  };
}

/** Writes this file's outcomes for docs/reliability.md and says how many were not contained. */
export function reportOutcomes(log: OutcomeLog, name: string): void {
  const file = log.write(name);
  const bad = log.outcomes.filter((o) => !o.ok);
  console.log(
    `hostile ${name}: ${log.outcomes.length} cases, ${bad.length} not contained${file ? `; outcomes in ${file}` : ''}`,
  );
}

/** Every part still runs and answers /healthz. */
export async function allAlive(t: ExecutionContext, c: TestCluster): Promise<void> {
  for (const p of [c.coordinator, c.origin, ...c.relays]) {
    t.is(p.child.exitCode, null, `${p.part} is running`);
    t.is(p.child.signalCode, null, `${p.part} was not killed`);
  }
  for (const u of [c.coordinator.url, c.origin.url, ...c.relays.map((r) => r.url)])
    await getText(`${u}/healthz`);
}

/** The live stream still plays through the first relay with the origin's bytes. */
export async function stillPlays(t: ExecutionContext, c: TestCluster): Promise<void> {
  const pl = await getText(`${c.relays[0]!.url}/live/demo/180p/index.m3u8`);
  const uri = pl
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .at(-1)!;
  const a = Buffer.from(await (await fetch(`${c.relays[0]!.url}/live/demo/180p/${uri}`)).arrayBuffer());
  const b = Buffer.from(await (await fetch(`${c.origin.url}/live/demo/180p/${uri}`)).arrayBuffer());
  t.true(a.equals(b));
}

/** Sends a mutating API call to the coordinator; status 0 when it closed while the body was sent. */
export async function api(
  c: TestCluster,
  method: string,
  path: string,
  body: string | undefined,
  secret: string | undefined,
): Promise<{ status: number; code: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== undefined) headers.authorization = `Bearer ${secret}`;
  try {
    const res = await fetch(`${c.coordinator.url}${path}`, { method, headers, body });
    const text = await res.text();
    return { status: res.status, code: /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '' };
  } catch {
    // The server answered early and closed while the body was still being sent (a body over the limit).
    return { status: 0, code: 'connection closed' };
  }
}

/** A node:http server standing in for a relay or an origin. */
export async function fakeServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler!);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}
