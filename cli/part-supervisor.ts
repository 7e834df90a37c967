import { type PartProcess, type SpawnPartOptions, spawnPart, stopPart } from './part-process.ts';

/** When a part that died is started again: `retryDelayMs` doubling up to `maxRetryDelayMs`. */
export interface RestartPolicy {
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** A part that stayed up this long starts over at `retryDelayMs`. */
  resetAfterMs: number;
}

export const DEMO_RESTART: RestartPolicy = {
  retryDelayMs: 500,
  maxRetryDelayMs: 10_000,
  resetAfterMs: 30_000,
};

export interface PartSupervisorOptions {
  /** `origin`, `coordinator`: how the terminal names the part (a relay is named by its id once known). */
  label: string;
  /** The spawn options; `previous` is the process that died (to keep its ports), absent at first. */
  spawn: (previous: PartProcess | undefined) => SpawnPartOptions;
  policy?: RestartPolicy;
  /** One line for the terminal per exit and per restart. */
  say: (line: string) => void;
}

/**
 * Keeps one demo part running: a part that exits while not being stopped is started again after a
 * back-off (MediaMTX's external-command runner does the same), and the terminal is told each time.
 */
export class PartSupervisor {
  private readonly opts: PartSupervisorOptions;
  private readonly policy: RestartPolicy;
  private proc: PartProcess | undefined;
  private startedAtMs = 0;
  private attempt = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  /** The first start while it runs (settled either way), so stop() can wait for it. */
  private starting: Promise<void> | undefined;
  private restarts = 0;

  constructor(opts: PartSupervisorOptions) {
    this.opts = opts;
    this.policy = opts.policy ?? DEMO_RESTART;
  }

  /** The process running now (the last one started, while it is restarted). */
  get current(): PartProcess {
    if (!this.proc) throw new Error(`${this.opts.label} was not started`);
    return this.proc;
  }

  /** How many times the part was started again. */
  get restartCount(): number {
    return this.restarts;
  }

  /**
   * First start: rejects (nothing restarted) when the part cannot start at all, or when stop() came
   * while it started (the demo stops every part when one fails: one still starting must not run on).
   */
  start(): Promise<PartProcess> {
    const run = this.firstStart();
    this.starting = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Stops the part, one still starting and any pending restart (idempotent). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.starting;
    await this.restarting;
    if (this.proc) await stopPart(this.proc);
  }

  private async firstStart(): Promise<PartProcess> {
    const proc = await spawnPart(this.opts.spawn(undefined));
    if (this.stopping) {
      await stopPart(proc);
      throw new Error(`${this.opts.label} was stopped while it started`);
    }
    this.adopt(proc);
    return proc;
  }

  private adopt(proc: PartProcess): void {
    this.proc = proc;
    this.startedAtMs = Date.now();
    void proc.exited.then((code) => this.exited(proc, code));
  }

  /** `relay-8082` for a relay, else the configured label. */
  get label(): string {
    return this.proc?.id ?? this.opts.label;
  }

  private exited(proc: PartProcess, code: number | string): void {
    if (this.stopping || proc !== this.proc) return;
    if (Date.now() - this.startedAtMs >= this.policy.resetAfterMs) this.attempt = 0;
    const how = typeof code === 'string' ? `signal ${code}` : `code ${code}`;
    this.scheduleRestart(`${this.label} exited (${how})`);
  }

  private scheduleRestart(why: string): void {
    const delayMs = Math.min(this.policy.retryDelayMs * 2 ** this.attempt, this.policy.maxRetryDelayMs);
    this.attempt++;
    this.opts.say(`${why}; restarting it in ${(delayMs / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => {
      this.restarting = this.restart().finally(() => {
        this.restarting = undefined;
      });
    }, delayMs);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    const previous = this.proc;
    try {
      const proc = await spawnPart(this.opts.spawn(previous));
      if (this.stopping) {
        await stopPart(proc);
        return;
      }
      this.restarts++;
      this.adopt(proc);
      this.opts.say(`${this.label} restarted (pid ${proc.child.pid}, ${proc.url})`);
    } catch (err) {
      if (this.stopping) return;
      const first = String((err as Error).message).split('\n')[0];
      this.scheduleRestart(`${this.label} failed to restart: ${first}`);
    }
  }
}
