/** A relay process on this host, started detached so that it outlives the script; its state lives in files. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeployError } from './errors.ts';
import type { RelaySettings } from './options.ts';
import type { RelayHandle } from './relay-handle.ts';
import { parseEnvFile } from './secret.ts';
import { pollUntil } from './wait.ts';

/** What is remembered about relay number `index` in `relay-<index>.json`. */
export interface LocalRelayRecord extends RelaySettings {
  index: number;
  host: string;
  /** 0 until the first start when the OS picks it; then the port the relay got, kept across restarts. */
  port: number;
  /** '' until the first start (the relay names itself `relay-<port>`). */
  id: string;
  url: string;
  coordinatorUrl: string;
}

const START_TIMEOUT_MS = 30_000;

/** True when `pid` is a live (not zombie) ringcast process. */
export function isRelayProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ringcast.js');
  } catch {
    // No /proc (not Linux): trust kill(0).
    return true;
  }
}

export class LocalRelay implements RelayHandle {
  readonly pidFile: string;
  readonly logFile: string;
  readonly envFile: string;
  readonly recordFile: string;

  constructor(
    readonly dir: string,
    public record: LocalRelayRecord,
    private readonly repoDir: string,
  ) {
    const base = join(dir, `relay-${record.index}`);
    this.pidFile = `${base}.pid`;
    this.logFile = `${base}.log`;
    this.envFile = `${base}.env`;
    this.recordFile = `${base}.json`;
  }

  get label(): string {
    return this.record.id || `relay #${this.record.index}`;
  }
  get id(): string {
    return this.record.id;
  }
  get url(): string {
    return this.record.url;
  }

  pid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async isRunning(): Promise<boolean> {
    const pid = this.pid();
    return pid !== undefined && isRelayProcess(pid);
  }

  saveRecord(): void {
    writeFileSync(this.recordFile, `${JSON.stringify(this.record, null, 2)}\n`);
  }

  /** Starts the relay detached, waits for its `listening` line, and records its port, id and URL. */
  async start(): Promise<void> {
    if (!existsSync(this.envFile)) {
      throw new DeployError(
        'DEPLOY_SECRET_MISSING',
        `${this.envFile} is missing: run 'local' with --secret-file`,
      );
    }
    const offset = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, [join(this.repoDir, 'bin/ringcast.js'), 'relay', ...this.args()], {
      cwd: this.repoDir,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...inheritedEnv(), ...parseEnvFile(readFileSync(this.envFile, 'utf8')) },
    });
    closeSync(fd);
    child.unref();
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exit ${code ?? signal}`;
    });
    if (child.pid === undefined) throw new DeployError('DEPLOY_START_FAILED', `${this.label}: spawn failed`);
    writeFileSync(this.pidFile, `${child.pid}\n`);
    const ready = await pollUntil(() => exited ?? this.listeningLine(offset), {
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 100,
    });
    if (!ready || typeof ready === 'string') {
      if (!ready) child.kill('SIGKILL');
      rmSync(this.pidFile, { force: true });
      throw new DeployError(
        'DEPLOY_START_FAILED',
        `${this.label}: relay ${ready ? `ended (${ready})` : `did not log 'listening' within ${START_TIMEOUT_MS} ms`}; its last log lines:`,
        { details: await this.lastLogLines(20) },
      );
    }
    this.record = { ...this.record, id: ready.id, url: ready.url, port: Number(new URL(ready.url).port) };
    this.saveRecord();
  }

  /** SIGTERM, then waits for the exit (drainMs plus a margin), then SIGKILL. */
  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined || !isRelayProcess(pid)) {
      rmSync(this.pidFile, { force: true });
      return;
    }
    process.kill(pid, 'SIGTERM');
    const graceMs = this.record.drainMs + 15_000;
    const gone = await pollUntil(() => !isRelayProcess(pid), { timeoutMs: graceMs, intervalMs: 100 });
    if (!gone) {
      process.kill(pid, 'SIGKILL');
      await pollUntil(() => !isRelayProcess(pid), { timeoutMs: 5000, intervalMs: 100 });
    }
    rmSync(this.pidFile, { force: true });
    if (!gone) {
      throw new DeployError(
        'DEPLOY_STOP_FAILED',
        `${this.label}: did not exit ${graceMs} ms after SIGTERM; killed`,
      );
    }
  }

  async lastLogLines(count: number): Promise<string[]> {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-count);
  }

  private args(): string[] {
    const r = this.record;
    const args = ['--host', r.host, '--port', String(r.port), '--coordinator-url', r.coordinatorUrl];
    if (r.id) args.push('--id', r.id);
    args.push('--cache-bytes', String(r.cacheBytes), '--capacity', String(r.capacity));
    args.push('--drain-ms', String(r.drainMs));
    return args;
  }

  /** The relay's `listening` line written after byte `offset` of the log, if any. */
  private listeningLine(offset: number): { url: string; id: string } | undefined {
    const text = readFileSync(this.logFile).subarray(offset).toString('utf8');
    for (const raw of text.split('\n')) {
      if (!raw.includes('"listening"')) continue;
      try {
        const line = JSON.parse(raw) as { msg?: string; url?: string; id?: string };
        if (line.msg === 'listening' && line.url && line.id) return { url: line.url, id: line.id };
      } catch {
        // Not a JSON line.
      }
    }
    return undefined;
  }
}

/** The caller's environment without RINGCAST_* keys (but the log level), so only the recorded settings apply. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('RINGCAST_') || k === 'RINGCAST_LOG_LEVEL'),
  );
}
