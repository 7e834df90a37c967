/** The `ssh` action and `status`/`stop`/`rolling-restart --hosts`: one relay per line of the hosts file. */
import { CoordinatorApi } from './coordinator-api.ts';
import { DeployError, messageOf } from './errors.ts';
import { readHostsFile } from './hosts-file.ts';
import type { DeployOptions } from './options.ts';
import { waitInRing } from './relay-handle.ts';
import { collectRelease, type Release } from './release.ts';
import type { Reporter } from './reporter.ts';
import { restartRelay, rollingRestart } from './rolling-restart.ts';
import { envFileText, readSecret } from './secret.ts';
import { SshClient } from './ssh-client.ts';
import { type HostFacts, type RenderedRelay, SshRelay } from './ssh-relay.ts';

type Outcome = 'installed' | 'updated' | 'started' | 'unchanged' | 'planned' | 'failed';

interface DeployContext {
  opts: DeployOptions;
  reporter: Reporter;
  coordinator: CoordinatorApi;
  release: Release;
  envText: string;
}

function relaysOf(opts: DeployOptions, coordinatorUrl: string): SshRelay[] {
  return readHostsFile(opts.ssh.hostsFile!, opts).map((h) => {
    const ssh = new SshClient({
      target: h.target,
      port: h.sshPort,
      identityFile: h.identityFile,
      knownHostsFile: opts.ssh.knownHostsFile,
      connectTimeoutS: opts.ssh.connectTimeoutS,
    });
    return new SshRelay(h, ssh, coordinatorUrl);
  });
}

function needCoordinator(opts: DeployOptions): string {
  if (!opts.coordinatorUrl) throw new DeployError('DEPLOY_USAGE', `'${opts.action}' needs --coordinator URL`);
  return opts.coordinatorUrl;
}

/** `ssh --hosts FILE`: each host in turn; a failed host does not stop the others; a summary at the end. */
export async function deploySsh(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const coordinatorUrl = needCoordinator(opts);
  const relays = relaysOf(opts, coordinatorUrl);
  const secret = readSecret(opts.secretFile);
  const release = collectRelease(opts.sourceDir);
  const coordinator = new CoordinatorApi(coordinatorUrl, secret);
  if (!opts.dryRun) await coordinator.check();
  reporter.info(
    `release ${release.digest.slice(0, 12)}: ${release.files.length} files, ${kib(release.bytes)}`,
  );
  const ctx: DeployContext = { opts, reporter, coordinator, release, envText: envFileText(secret) };
  const results: { label: string; outcome: Outcome; why?: string }[] = [];
  for (const relay of relays) {
    try {
      results.push({ label: relay.label, outcome: await deployOne(relay, ctx) });
    } catch (err) {
      const details = err instanceof DeployError ? err.details : [];
      const message = messageOf(err);
      reporter.error(message.startsWith(relay.label) ? message : `${relay.label}: ${message}`, details);
      const why = message
        .split('\n')[0]!
        .replace(`${relay.label}: `, '')
        .replace(/; its last log lines:$/, '');
      results.push({ label: relay.label, outcome: 'failed', why });
    }
  }
  reporter.info('\nsummary:');
  for (const r of results) reporter.info(`  ${r.label.padEnd(32)} ${r.outcome}${r.why ? `: ${r.why}` : ''}`);
  const failed = results.filter((r) => r.outcome === 'failed');
  if (failed.length > 0) {
    const ok = results.filter((r) => r.outcome !== 'failed').map((r) => r.label);
    throw new DeployError(
      'DEPLOY_PARTIAL_FAILURE',
      `${failed.length} of ${results.length} hosts failed (${failed.map((r) => r.label).join(', ')}); ` +
        `succeeded: ${ok.length > 0 ? ok.join(', ') : 'none'}`,
    );
  }
  if (opts.dryRun) reporter.info('dry run: nothing was changed');
}

async function deployOne(relay: SshRelay, ctx: DeployContext): Promise<Outcome> {
  const { reporter, release, opts } = ctx;
  const name = relay.label;
  const facts = await relay.probe();
  const rendered = relay.render(facts, release, ctx.envText);
  const mode = facts.systemd ? `systemd unit ${relay.layout.unitName}` : 'supervised process (no systemd)';
  if (relay.host.runAs && !facts.systemd)
    reporter.warn(
      name,
      `run-as=${relay.host.runAs} applies to systemd hosts; the supervised relay runs as the ssh user`,
    );
  if (facts.digest === rendered.digest && facts.running) {
    reporter.step(name, `unchanged, running (pid ${facts.pid || '?'}); ${mode}`);
    if (!opts.dryRun) await waitInRing(relay, ctx.coordinator, opts.joinTimeoutMs);
    return 'unchanged';
  }
  if (opts.dryRun) {
    describe(relay, ctx, facts.release !== release.digest, facts.deps !== release.depsDigest);
    reporter.wouldDo(
      name,
      `${facts.running ? 'replace the running relay (drain first)' : 'start'} as a ${mode}`,
    );
    reporter.block(facts.systemd ? rendered.unit : rendered.supervisor);
    return 'planned';
  }
  await install(relay, ctx, facts, rendered);
  await startOrRestart(relay, ctx, facts.running, mode);
  await relay.writeDigest(rendered.digest);
  reporter.step(name, `in the ring at ${relay.url}`);
  return facts.running ? 'updated' : facts.digest === rendered.digest ? 'started' : 'installed';
}

/** Copies what changed (the project, its dependencies) and writes the relay's files. */
async function install(relay: SshRelay, ctx: DeployContext, facts: HostFacts, rendered: RenderedRelay) {
  const { reporter, release } = ctx;
  if (await relay.syncRelease(facts, release))
    reporter.step(relay.label, `copied the project to ${relay.layout.appDir}`);
  if (await relay.syncDeps(facts, release))
    reporter.step(relay.label, 'installed dependencies (npm ci --omit=dev)');
  await relay.writeFiles(rendered);
  reporter.step(relay.label, `secret in ${relay.layout.envFile} (mode 600); unit ${relay.layout.unitFile}`);
}

/** A running relay is drained and restarted (docs/operations.md, rolling restart); a stopped one started. */
async function startOrRestart(relay: SshRelay, ctx: DeployContext, running: boolean, mode: string) {
  const { reporter } = ctx;
  if (running) {
    await restartRelay(relay, { ...ctx.opts, coordinator: ctx.coordinator, reporter });
    return;
  }
  await relay.start();
  reporter.step(relay.label, `started as a ${mode}; waiting for the ring`);
  await waitInRing(relay, ctx.coordinator, ctx.opts.joinTimeoutMs);
}

function describe(relay: SshRelay, ctx: DeployContext, copy: boolean, deps: boolean): void {
  const { reporter, release } = ctx;
  const l = relay.layout;
  if (copy)
    reporter.wouldDo(
      relay.label,
      `copy ${release.files.length} files (${kib(release.bytes)}) to ${l.appDir}`,
    );
  if (deps) reporter.wouldDo(relay.label, `run npm ci --omit=dev in ${l.dir}`);
  reporter.wouldDo(relay.label, `write the secret from ${ctx.opts.secretFile} to ${l.envFile} (mode 600)`);
  reporter.wouldDo(relay.label, `wait until ${ctx.coordinator.baseUrl} lists ${relay.url}`);
}

/** `status --hosts FILE`: false when a relay is down, out of the ring or its host unreachable. */
export async function sshStatus(opts: DeployOptions, reporter: Reporter): Promise<boolean> {
  const coordinatorUrl = needCoordinator(opts);
  const view = await new CoordinatorApi(coordinatorUrl).cluster().catch(() => undefined);
  if (!view) reporter.warn('coordinator', `${coordinatorUrl} does not answer`);
  let healthy = true;
  for (const relay of relaysOf(opts, coordinatorUrl)) {
    const member = view?.ring.relays.find((r) => r.url === relay.url);
    const ring = member ? `in ring (${member.state}, viewers ${member.load?.viewers ?? 0})` : 'not in ring';
    try {
      const f = await relay.probe();
      const proc = f.running ? `running (pid ${f.pid})` : 'stopped';
      reporter.step(relay.label, `${proc}, ${f.systemd ? 'systemd' : 'supervisor'}, ${relay.url}, ${ring}`);
      if (!f.running || member?.state !== 'active') healthy = false;
    } catch (err) {
      healthy = false;
      reporter.step(relay.label, `${messageOf(err)}; ${ring}`);
    }
  }
  return healthy;
}

/** `stop --hosts FILE`: stops (and disables) every relay; the others are still tried when one fails. */
export async function sshStop(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const coordinatorUrl = needCoordinator(opts);
  const coordinator = new CoordinatorApi(coordinatorUrl);
  const failed: string[] = [];
  for (const relay of relaysOf(opts, coordinatorUrl)) {
    try {
      if (opts.dryRun) {
        reporter.wouldDo(
          relay.label,
          `stop ${relay.layout.unitName} (or its supervisor) and wait for it to exit`,
        );
        continue;
      }
      await relay.probe();
      await relay.stop({ disable: true });
      reporter.step(relay.label, 'stopped');
      if (!(await coordinator.waitGone(relay.url, opts.joinTimeoutMs).catch(() => false)))
        reporter.warn(relay.label, `the coordinator still lists ${relay.url}`);
    } catch (err) {
      reporter.error(`${relay.label}: ${messageOf(err)}`);
      failed.push(relay.label);
    }
  }
  if (failed.length > 0)
    throw new DeployError('DEPLOY_PARTIAL_FAILURE', `could not stop the relays on ${failed.join(', ')}`);
}

/** `rolling-restart --hosts FILE`. */
export async function sshRollingRestart(opts: DeployOptions, reporter: Reporter): Promise<void> {
  const coordinatorUrl = needCoordinator(opts);
  const relays = relaysOf(opts, coordinatorUrl);
  await rollingRestart({
    relays,
    coordinator: new CoordinatorApi(coordinatorUrl, readSecret(opts.secretFile)),
    drainTimeoutMs: opts.drainTimeoutMs,
    joinTimeoutMs: opts.joinTimeoutMs,
    dryRun: opts.dryRun,
    reporter,
  });
}

function kib(bytes: number): string {
  return `${Math.round(bytes / 1024)} KiB`;
}
