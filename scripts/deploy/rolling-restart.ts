/** Replaces relays one at a time so that viewers never lose their relay: drain, wait, stop, start, rejoin. */
import type { CoordinatorApi } from './coordinator-api.ts';
import { messageOf } from './errors.ts';
import { type RelayHandle, waitInRing } from './relay-handle.ts';
import type { Reporter } from './reporter.ts';

/** What replacing one relay needs. */
export interface RestartOptions {
  coordinator: CoordinatorApi;
  drainTimeoutMs: number;
  joinTimeoutMs: number;
  reporter: Reporter;
}

export interface RollingRestartOptions extends RestartOptions {
  relays: readonly RelayHandle[];
  dryRun: boolean;
}

/** Restarts every relay in turn; stops at the first relay that does not come back (throws). */
export async function rollingRestart(opts: RollingRestartOptions): Promise<void> {
  const { reporter } = opts;
  if (!opts.dryRun) await opts.coordinator.check();
  for (const [i, relay] of opts.relays.entries()) {
    const started = Date.now();
    reporter.info(`relay ${i + 1}/${opts.relays.length}: ${relay.label} (${relay.url})`);
    if (opts.dryRun) {
      describeRestart(relay, opts);
      continue;
    }
    try {
      await restartRelay(relay, opts);
    } catch (err) {
      // Stop here: restarting the next relay while one is missing would take capacity away twice.
      const done = opts.relays.slice(0, i).map((r) => r.label);
      const left = opts.relays.slice(i + 1).map((r) => r.label);
      reporter.info(`rolling restart stopped at ${relay.label}`);
      reporter.info(`  restarted: ${done.join(', ') || 'none'}`);
      reporter.info(`  not restarted: ${left.join(', ') || 'none'}`);
      throw err;
    }
    reporter.step(relay.label, `back in the ring after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  reporter.info(
    opts.dryRun ? 'dry run: nothing was changed' : `rolling restart done: ${opts.relays.length} relays`,
  );
}

/** Drain, wait for the viewers to move, stop, start, wait until it is back in the ring as active. */
export async function restartRelay(relay: RelayHandle, opts: RestartOptions): Promise<void> {
  const { reporter, coordinator } = opts;
  if (!(await relay.isRunning())) {
    reporter.warn(relay.label, 'was not running; starting it');
    await relay.start();
    await waitInRing(relay, coordinator, opts.joinTimeoutMs);
    return;
  }
  const listed = await coordinator.relayByUrl(relay.url);
  if (listed) {
    await coordinator.drain(listed.id);
    reporter.step(relay.label, `draining (viewers: ${listed.load?.viewers ?? 0})`);
    const t0 = Date.now();
    if (await coordinator.waitNoViewers(listed.id, opts.drainTimeoutMs)) {
      reporter.step(relay.label, `viewers moved away in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      reporter.warn(relay.label, `viewers still on it after ${opts.drainTimeoutMs} ms; stopping anyway`);
    }
  } else reporter.warn(relay.label, 'not in the ring; restarting without draining');
  try {
    await relay.stop();
  } catch (err) {
    reporter.warn(relay.label, `stop: ${messageOf(err)}`);
    throw err;
  }
  reporter.step(relay.label, 'stopped');
  await relay.start();
  reporter.step(relay.label, 'started; waiting for the ring');
  await waitInRing(relay, coordinator, opts.joinTimeoutMs);
}

function describeRestart(relay: RelayHandle, opts: RollingRestartOptions): void {
  const r = opts.reporter;
  r.wouldDo(relay.label, `POST ${opts.coordinator.baseUrl}/api/v1/relays/${relay.id}/drain`);
  r.wouldDo(
    relay.label,
    `wait up to ${opts.drainTimeoutMs} ms until its load.viewers in /api/v1/cluster is 0`,
  );
  r.wouldDo(relay.label, 'stop it (SIGTERM: it drains, deregisters and exits) and wait for the exit');
  r.wouldDo(relay.label, 'start it again with the same settings');
  r.wouldDo(relay.label, `wait up to ${opts.joinTimeoutMs} ms until the ring lists ${relay.url} as active`);
}
