/** One relay on a host reached over ssh: probe, install, start, stop and logs (systemd or a plain supervisor). */
import { createHash } from 'node:crypto';
import { DeployError } from './errors.ts';
import { type HostEntry, hostLabel } from './hosts-file.ts';
import type { RelayHandle } from './relay-handle.ts';
import type { Release } from './release.ts';
import { releaseTar } from './release.ts';
import { type RemoteLayout, remoteLayout, renderSupervisor, renderUnit } from './remote-layout.ts';
import {
  depsScript,
  logsScript,
  probeScript,
  supervisorStartScript,
  supervisorStopScript,
  systemdStartScript,
  systemdStopScript,
  unpackScript,
  writeFileScript,
} from './remote-scripts.ts';
import type { SshClient } from './ssh-client.ts';

/** What the probe learned about the host and the relay on it. */
export interface HostFacts {
  systemd: boolean;
  node: string;
  release: string;
  deps: string;
  digest: string;
  running: boolean;
  /** The relay process id ('' when not running). */
  pid: string;
}

/** The files rendered for this relay, and the digest that says whether anything changed. */
export interface RenderedRelay {
  unit: string;
  supervisor: string;
  env: string;
  digest: string;
}

export class SshRelay implements RelayHandle {
  readonly layout: RemoteLayout;
  private facts: HostFacts | undefined;

  constructor(
    readonly host: HostEntry,
    readonly ssh: SshClient,
    private readonly coordinatorUrl: string,
  ) {
    this.layout = remoteLayout(host);
  }

  get label(): string {
    return hostLabel(this.host);
  }
  get id(): string {
    return this.host.id;
  }
  get url(): string {
    return this.host.publicUrl;
  }

  /** Asks the host; throws DEPLOY_HOST_UNREACHABLE when ssh cannot get in. */
  async probe(): Promise<HostFacts> {
    const out = await this.ssh.runChecked('probe', probeScript(this.layout));
    const kv = new Map(
      out
        .split('\n')
        .map((line) => line.split(/=(.*)/s) as [string, string?])
        .map(([k, v]) => [k, (v ?? '').trim()]),
    );
    this.facts = {
      systemd: kv.get('systemd') === 'yes',
      node: this.host.node ?? kv.get('node') ?? '',
      release: kv.get('release') ?? '',
      deps: kv.get('deps') ?? '',
      digest: kv.get('digest') ?? '',
      running: kv.get('running') === 'yes',
      pid: kv.get('pid') ?? '',
    };
    return this.facts;
  }

  private async known(): Promise<HostFacts> {
    return this.facts ?? this.probe();
  }

  /** Renders the unit, the supervisor script and the env file for this host. */
  render(facts: HostFacts, release: Release, envText: string): RenderedRelay {
    if (!facts.node) {
      throw new DeployError(
        'DEPLOY_REMOTE_FAILED',
        `${this.label}: node is not installed (or not on PATH for ssh); install Node.js 20 or set node=/path in the hosts file`,
      );
    }
    const unit = renderUnit(this.host, this.layout, facts.node, this.coordinatorUrl);
    const supervisor = renderSupervisor(this.host, this.layout, facts.node, this.coordinatorUrl);
    const digest = createHash('sha256')
      .update(
        [release.digest, release.depsDigest, unit, supervisor, envText, String(facts.systemd)].join('\0'),
      )
      .digest('hex');
    return { unit, supervisor, env: envText, digest };
  }

  /** Copies the project when its digest differs; true when it did. */
  async syncRelease(facts: HostFacts, release: Release): Promise<boolean> {
    if (facts.release === release.digest) return false;
    await this.ssh.runChecked(
      'copy the project',
      unpackScript(this.layout, release.digest),
      releaseTar(release),
    );
    facts.release = release.digest;
    return true;
  }

  /** Runs `npm ci --omit=dev` when package.json or package-lock.json changed; true when it did. */
  async syncDeps(facts: HostFacts, release: Release): Promise<boolean> {
    if (facts.deps === release.depsDigest) return false;
    await this.ssh.runChecked('npm ci --omit=dev', depsScript(this.layout, release.depsDigest));
    facts.deps = release.depsDigest;
    return true;
  }

  /** Writes the env file (mode 600, through stdin), the unit and the supervisor script. */
  async writeFiles(r: RenderedRelay): Promise<void> {
    await this.ssh.runChecked('install the secret', writeFileScript(this.layout.envFile, '600'), r.env);
    await this.ssh.runChecked('write the unit', writeFileScript(this.layout.unitFile, '644'), r.unit);
    await this.ssh.runChecked(
      'write the supervisor',
      writeFileScript(this.layout.supervisorFile, '755'),
      r.supervisor,
    );
  }

  /** Records what is deployed, so that the next identical run changes nothing. */
  async writeDigest(digest: string): Promise<void> {
    await this.ssh.runChecked(
      'record the digest',
      writeFileScript(this.layout.digestFile, '600'),
      `${digest}\n`,
    );
  }

  async isRunning(): Promise<boolean> {
    return (await this.probe()).running;
  }

  /** systemd: install + enable --now; otherwise the supervisor. */
  async start(): Promise<void> {
    const facts = await this.known();
    const script = facts.systemd ? systemdStartScript(this.layout) : supervisorStartScript(this.layout);
    await this.ssh.runChecked('start the relay', script);
    facts.running = true;
  }

  async stop(opts: { disable?: boolean } = {}): Promise<void> {
    const facts = await this.known();
    const graceS = Math.ceil(this.host.relay.drainMs / 1000) + 15;
    const script = facts.systemd
      ? systemdStopScript(this.layout, opts.disable ?? false)
      : supervisorStopScript(this.layout, graceS);
    await this.ssh.runChecked('stop the relay', script);
    facts.running = false;
  }

  async lastLogLines(count: number): Promise<string[]> {
    const facts = await this.known();
    const r = await this.ssh.run(logsScript(this.layout, facts.systemd, count));
    return r.stdout.trimEnd().split('\n').filter(Boolean);
  }
}
