/** The `local` action and its `status`, `stop` and `rolling-restart`: relays on this host, state under --dir. */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoordinatorApi } from './coordinator-api.ts';
import { DeployError, messageOf } from './errors.ts';
import { LocalRelay, type LocalRelayRecord } from './local-relay.ts';
import type { DeployOptions } from './options.ts';
import { waitInRing } from './relay-handle.ts';
import type { Reporter } from './reporter.ts';
import { rollingRestart } from './rolling-restart.ts';
import { envFileText, parseEnvFile, readSecret } from './secret.ts';

/** The relays recorded under `dir`, by index. */
export function loadLocalRelays(dir: string, repoDir: string): LocalRelay[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^relay-\d+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as LocalRelayRecord)
    .sort((a, b) => a.index - b.index)
    .map((r) => new LocalRelay(dir, r, repoDir));
}

/**
 * Pid files without a record: a start that was interrupted before the relay logged `listening` (the
 * script killed, the machine busy). Only `stop` and the next `local` know of them from these files.
 */
export function leftoverLocalRelays(dir: string, repoDir: string): LocalRelay[] {
  if (!existsSync(dir)) return [];
  const files = new Set(readdirSync(dir));
  return [...files]
    .map((f) => /^relay-(\d+)\.pid$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && !files.has(`relay-${m[1]}.json`))
    .map((m) => {
      const index = Number(m[1]);
      const record = { index, host: '', port: 0, id: '', url: '', coordinatorUrl: '' };
      return new LocalRelay(dir, { ...record, cacheBytes: 0, capacity: 1, drainMs: 0 }, repoDir);
    });
}

/** Stops the leftovers of an interrupted start and removes their pid files. */
async function stopLeftovers(opts: DeployOptions, reporter: Reporter): Promise<void> {
  for (const relay of leftoverLocalRelays(opts.local.dir, opts.repoDir)) {
    const pid = relay.pid();
    if (opts.dryRun) {
      reporter.wouldDo(
        relay.label,
        `stop the leftover of an interrupted start (pid ${pid}) and remove its pid file`,
      );
      continue;
    }
    const running = await relay.isRunning();
    await relay.stop().catch(() => undefined);
    reporter.step(
      relay.label,
      running ? `leftover of an interrupted start (pid ${pid}) stopped` : 'stale pid file removed',
    );
  }
}

/**
 * A start that failed half way: the relays it started are stopped, and those it created lose their
 * pid, env (the secret) and record files, so nothing runs and `status` shows what ran before.
 */
async function undoStart(started: LocalRelay[], created: Set<number>, reporter: Reporter): Promise<void> {
  await Promise.all(
    started.map(async (relay) => {
      const running = await relay.isRunning();
      await relay.stop().catch(() => undefined);
      rmSync(relay.pidFile, { force: true });
      if (created.has(relay.record.index)) {
        rmSync(relay.envFile, { force: true });
        rmSync(relay.recordFile, { force: true });
      }
      if (running) reporter.step(relay.label, 'stopped: the start failed (log kept)');
    }),
  );
}

/** `local --count N`: makes N relays run here; relays already running are kept. */
export async function deployLocal(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const { dir } = opts.local;
  const count = opts.local.count!;
  const existing = new Map(loadLocalRelays(dir, opts.repoDir).map((r) => [r.record.index, r]));
  const coordinatorUrl = opts.coordinatorUrl ?? existing.get(0)?.record.coordinatorUrl;
  if (!coordinatorUrl) throw new DeployError('DEPLOY_USAGE', "'local' needs --coordinator URL");
  const secret = readSecret(opts.secretFile);
  const coordinator = new CoordinatorApi(coordinatorUrl, secret);
  if (!opts.dryRun) {
    await coordinator.check();
    mkdirSync(dir, { recursive: true });
  }
  await stopLeftovers(opts, reporter);
  const toStart: LocalRelay[] = [];
  for (let index = 0; index < count; index++) {
    const relay = existing.get(index) ?? newRelay(opts, index, coordinatorUrl);
    relay.record = { ...relay.record, ...opts.relay, coordinatorUrl, host: relay.record.host };
    if (await keepOrPlan(relay, opts, reporter)) toStart.push(relay);
  }
  const fresh = new Set(toStart.map((r) => r.record.index).filter((i) => !existing.has(i)));
  await startAll(toStart, fresh, { secret, coordinator, opts, reporter });
  const extra = [...existing.values()].filter((r) => r.record.index >= count);
  for (const r of extra) reporter.warn(r.label, `beyond --count ${count}; left as it is ('stop' stops all)`);
  reporter.info(opts.dryRun ? 'dry run: nothing was changed' : `${count} relays running (state in ${dir})`);
}

/**
 * A running relay is kept (its record updated), a dry run says what it would do; true when the relay
 * must be started.
 */
async function keepOrPlan(relay: LocalRelay, opts: DeployOptions, reporter: Reporter): Promise<boolean> {
  if (await relay.isRunning()) {
    reporter.step(relay.label, `already running (pid ${relay.pid()}, ${relay.url}); kept`);
    if (!opts.dryRun) relay.saveRecord();
    return false;
  }
  if (!opts.dryRun) return true;
  const port = relay.record.port || 'a port the OS picks';
  const coordinatorUrl = relay.record.coordinatorUrl;
  reporter.wouldDo(relay.label, `write ${relay.envFile} (mode 600, cluster secret from ${opts.secretFile})`);
  reporter.wouldDo(relay.label, `start a relay on ${relay.record.host}:${port}, pid in ${relay.pidFile}`);
  reporter.wouldDo(relay.label, `log to ${relay.logFile} and wait until ${coordinatorUrl} lists it`);
  return false;
}

interface StartContext {
  secret: string;
  coordinator: CoordinatorApi;
  opts: DeployOptions;
  reporter: Reporter;
}

/**
 * Starts the relays side by side (each spends a few seconds compiling its TypeScript) and waits for
 * each in the ring; when any fails, every one is undone (`fresh`: those this run created) and the
 * failure thrown.
 */
async function startAll(toStart: LocalRelay[], fresh: Set<number>, ctx: StartContext): Promise<void> {
  const { reporter } = ctx;
  const results = await Promise.allSettled(
    toStart.map(async (relay) => {
      writeFileSync(relay.envFile, envFileText(ctx.secret), { mode: 0o600 });
      chmodSync(relay.envFile, 0o600);
      await relay.start();
      reporter.step(relay.label, `started (pid ${relay.pid()}, ${relay.url}, log ${relay.logFile})`);
      const listed = await waitInRing(relay, ctx.coordinator, ctx.opts.joinTimeoutMs);
      reporter.step(relay.label, `in the ring (${listed.state})`);
    }),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length === 0) return;
  await undoStart(toStart, fresh, reporter);
  throw startFailure(failures, toStart.length);
}

/** One failure as it is; several as one DEPLOY_START_FAILED listing each. */
export function startFailure(failures: unknown[], tried: number): unknown {
  if (failures.length === 1) return failures[0];
  return new DeployError('DEPLOY_START_FAILED', `${failures.length} of ${tried} relays failed to start`, {
    details: failures.flatMap((e) => [messageOf(e), ...(e instanceof DeployError ? e.details : [])]),
  });
}

function newRelay(opts: DeployOptions, index: number, coordinatorUrl: string): LocalRelay {
  const port = opts.local.basePort === 0 ? 0 : opts.local.basePort + index;
  const record: LocalRelayRecord = {
    index,
    host: opts.local.host,
    port,
    id: port ? `relay-${port}` : '',
    url: port ? `http://${opts.local.host === '0.0.0.0' ? '127.0.0.1' : opts.local.host}:${port}` : '',
    coordinatorUrl,
    ...opts.relay,
  };
  return new LocalRelay(opts.local.dir, record, opts.repoDir);
}

/** Relays under --dir, and their coordinator (from --coordinator or the records). */
function recorded(opts: DeployOptions): { relays: LocalRelay[]; coordinatorUrl: string | undefined } {
  const relays = loadLocalRelays(opts.local.dir, opts.repoDir);
  return { relays, coordinatorUrl: opts.coordinatorUrl ?? relays[0]?.record.coordinatorUrl };
}

/** `status`: one line per relay; false when any recorded relay is down or out of the ring. */
export async function localStatus(opts: DeployOptions, reporter: Reporter): Promise<boolean> {
  const { relays, coordinatorUrl } = recorded(opts);
  if (relays.length === 0) {
    reporter.info(`no relays recorded in ${opts.local.dir}`);
    return true;
  }
  const ring = coordinatorUrl
    ? await new CoordinatorApi(coordinatorUrl).cluster().catch(() => undefined)
    : undefined;
  if (!ring) reporter.warn('coordinator', `${coordinatorUrl ?? '(unknown)'} does not answer`);
  let healthy = true;
  for (const relay of relays) {
    const running = await relay.isRunning();
    const member = ring?.ring.relays.find((r) => r.url === relay.url);
    const inRing = member ? `in ring (${member.state}, viewers ${member.load?.viewers ?? 0})` : 'not in ring';
    if (!running || member?.state !== 'active') healthy = false;
    const proc = running ? `running (pid ${relay.pid()})` : 'stopped';
    reporter.step(relay.label, `${proc}, ${relay.url || 'no url yet'}, ${inRing}, log ${relay.logFile}`);
  }
  return healthy;
}

/** `stop`: every recorded relay drains and exits; waits until the ring no longer lists them. */
export async function localStop(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const { relays, coordinatorUrl } = recorded(opts);
  await stopLeftovers(opts, reporter);
  if (relays.length === 0) reporter.info(`no relays recorded in ${opts.local.dir}`);
  const coordinator = coordinatorUrl ? new CoordinatorApi(coordinatorUrl) : undefined;
  const stopped = await Promise.all(
    relays.map(async (relay) => {
      if (!(await relay.isRunning())) {
        if (!opts.dryRun) rmSync(relay.pidFile, { force: true });
        reporter.step(relay.label, 'not running');
        return undefined;
      }
      if (opts.dryRun) {
        reporter.wouldDo(relay.label, `send SIGTERM to pid ${relay.pid()} and wait for it to exit`);
        return undefined;
      }
      await relay.stop();
      reporter.step(relay.label, 'stopped');
      return relay;
    }),
  );
  for (const relay of stopped) {
    if (!relay || !coordinator) continue;
    const gone = await coordinator.waitGone(relay.url, opts.joinTimeoutMs).catch(() => false);
    if (!gone) reporter.warn(relay.label, `the coordinator still lists ${relay.url}`);
  }
  if (opts.dryRun) reporter.info('dry run: nothing was changed');
}

/** `rolling-restart` of the relays under --dir. */
export async function localRollingRestart(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const { relays, coordinatorUrl } = recorded(opts);
  if (relays.length === 0) throw new DeployError('DEPLOY_USAGE', `no relays recorded in ${opts.local.dir}`);
  if (!coordinatorUrl) throw new DeployError('DEPLOY_USAGE', 'rolling-restart needs --coordinator URL');
  // The secret (for the drain call) comes from --secret-file, else from the relays' own env file.
  const secret = opts.secretFile
    ? readSecret(opts.secretFile)
    : parseEnvFileOf(relays[0]!.envFile).RINGCAST_CLUSTER_SECRET;
  if (!secret) throw new DeployError('DEPLOY_SECRET_MISSING', 'no cluster secret: pass --secret-file FILE');
  await rollingRestart({
    relays,
    coordinator: new CoordinatorApi(coordinatorUrl, secret),
    drainTimeoutMs: opts.drainTimeoutMs,
    joinTimeoutMs: opts.joinTimeoutMs,
    dryRun: opts.dryRun,
    reporter,
  });
}

function parseEnvFileOf(file: string): Record<string, string> {
  return existsSync(file) ? parseEnvFile(readFileSync(file, 'utf8')) : {};
}
