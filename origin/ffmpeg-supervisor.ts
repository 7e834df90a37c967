import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type RetryPolicy, retryDelayMs } from '../common/http.ts';
import type { Logger } from '../common/log.ts';

/** How one ffmpeg run ended. */
export interface RunEndData {
  runId: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Last stderr lines, for the log. */
  stderrTail: string[];
  /** Ended because stop() asked it to. */
  requested: boolean;
}

export interface FfmpegSupervisorOptions {
  ffmpegPath: string;
  log: Logger;
  /** ffmpeg arguments for a run; the run id goes into the upload URLs. */
  buildArgs: (runId: string) => string[];
  retry: RetryPolicy;
  /** Kill when no fragment arrived for this long (after the first one). */
  stallTimeoutMs: number;
  /** Kill when the first fragment did not arrive within this long. */
  startTimeoutMs: number;
  /** Time between SIGTERM and SIGKILL on stop. */
  killTimeoutMs?: number;
  onRunStart?: (runId: string) => void;
  onRunEnd?: (data: RunEndData) => void;
}

interface Run {
  id: string;
  child: ChildProcess;
  startedAt: number;
  lastProgressAt: number | undefined;
  stderr: string[];
  exited: Promise<void>;
  stopRequested: boolean;
}

/**
 * Runs one ffmpeg for a live stream and keeps it running: restarts after a crash with capped
 * exponential backoff, kills it when fragments stop coming, and kills its whole process group on stop.
 */
export class FfmpegSupervisor {
  private readonly opts: FfmpegSupervisorOptions;
  private run: Run | undefined;
  private wanted = false;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(opts: FfmpegSupervisorOptions) {
    this.opts = opts;
  }

  /** Starts ffmpeg (and keeps it running) unless it already is. */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.attempt = 0;
    if (!this.run) this.spawnRun();
    this.watchdog ??= setInterval(() => this.checkStall(), 250);
  }

  /** Stops ffmpeg: SIGTERM (it finishes its fragments), SIGKILL to the group after a timeout. */
  async stop(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const run = this.run;
    if (!run) return;
    run.stopRequested = true;
    this.signal(run, 'SIGTERM');
    const timer = setTimeout(() => this.signal(run, 'SIGKILL'), this.opts.killTimeoutMs ?? 3000);
    await run.exited;
    clearTimeout(timer);
  }

  /** A fragment of run `runId` arrived: it is alive. */
  noteProgress(runId: string): void {
    if (this.run?.id !== runId) return;
    if (this.run.lastProgressAt === undefined) this.attempt = 0;
    this.run.lastProgressAt = Date.now();
  }

  /** The id of the current run, if any. */
  get currentRunId(): string | undefined {
    return this.run?.id;
  }

  private spawnRun(): void {
    const id = randomBytes(8).toString('hex');
    const args = this.opts.buildArgs(id);
    // Own process group, so stop() reaches anything ffmpeg might start.
    const child = spawn(this.opts.ffmpegPath, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const run: Run = {
      id,
      child,
      startedAt: Date.now(),
      lastProgressAt: undefined,
      stderr: [],
      exited: new Promise((resolve) => child.once('close', () => resolve())),
      stopRequested: false,
    };
    this.run = run;
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      run.stderr.push(...lines.filter(Boolean));
      if (run.stderr.length > 20) run.stderr.splice(0, run.stderr.length - 20);
    });
    child.once('error', (err) => this.opts.log.error({ err, runId: id }, 'ffmpeg could not start'));
    // 'close', not 'exit': it also comes when the spawn itself failed, and after stderr is read to the end.
    child.once('close', (code, signal) => this.onExit(run, code, signal));
    this.opts.log.info({ runId: id, pid: child.pid }, 'ffmpeg started');
    this.opts.onRunStart?.(id);
  }

  private onExit(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.run === run) this.run = undefined;
    const data: RunEndData = {
      runId: run.id,
      code,
      signal,
      stderrTail: run.stderr,
      requested: run.stopRequested,
    };
    const fields = { runId: run.id, code, signal, stderr: run.stderr.slice(-8) };
    if (run.stopRequested) this.opts.log.info(fields, 'ffmpeg stopped');
    else this.opts.log.warn(fields, 'ffmpeg exited');
    this.opts.onRunEnd?.(data);
    if (!this.wanted) return;
    const delay = retryDelayMs(this.opts.retry, this.attempt++);
    this.opts.log.info({ delayMs: delay, attempt: this.attempt }, 'restarting ffmpeg');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.wanted && !this.run) this.spawnRun();
    }, delay);
  }

  private checkStall(): void {
    const run = this.run;
    if (!run || run.stopRequested) return;
    const now = Date.now();
    const stalled =
      run.lastProgressAt === undefined
        ? now - run.startedAt > this.opts.startTimeoutMs
        : now - run.lastProgressAt > this.opts.stallTimeoutMs;
    if (!stalled) return;
    this.opts.log.warn({ runId: run.id, lastProgressAt: run.lastProgressAt }, 'ffmpeg stalled; killing it');
    run.stopRequested = false;
    this.signal(run, 'SIGKILL');
  }

  /** Signals the run's process group, which may outlive its leader (a child holding stderr open). */
  private signal(run: Run, sig: NodeJS.Signals): void {
    if (run.child.pid === undefined) return;
    try {
      process.kill(-run.child.pid, sig);
    } catch {
      // ESRCH: the group is gone already.
    }
  }
}
