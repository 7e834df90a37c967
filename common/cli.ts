import { ConfigError, type ConfigOf, type ConfigSpec, describeConfig, loadConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';

/**
 * Loads a part's config from flags and environment for a `main`: `--help` prints the keys and exits 0;
 * a bad value prints one message naming every bad key and exits 2.
 */
export function exitOnConfigError<S extends ConfigSpec>(part: string, spec: S, argv: string[]): ConfigOf<S> {
  return loadOrExit(part, spec, argv, (a) => loadConfig(spec, a, process.env, {}, part));
}

function loadOrExit<C>(part: string, spec: ConfigSpec, argv: string[], load: (argv: string[]) => C): C {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ringcast ${part} [options]\n\n${describeConfig(spec, part)}\n`);
    process.exit(0);
  }
  try {
    return load(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ringcast ${part}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** Set by spawnPart: the part stops when its stdin (a pipe from the parent) closes. */
export const EXIT_WITH_PARENT_ENV = 'RINGCAST_EXIT_WITH_PARENT';

/** What a part's main needs of its app: MediaMTX's Initialize/Close, plus an optional drain. */
export interface PartLifecycle<R> {
  start(): Promise<R>;
  close(): Promise<void>;
  drain?(): Promise<void>;
}

export interface RunPartOptions<C, R> {
  part: 'coordinator' | 'origin' | 'relay';
  spec: ConfigSpec;
  argv: string[];
  /** Loads and checks the config; throws ConfigError. */
  load: (argv: string[]) => C;
  create: (config: C, log: Logger) => PartLifecycle<R>;
  /** Signals that drain before closing (a relay's SIGTERM). */
  drainOn?: NodeJS.Signals[];
}

/**
 * The whole `main` of a part: config (exit 2 when bad), start (exit 1 when it fails), one `listening`
 * log line with what start returned, and SIGINT/SIGTERM: close (or drain, then close) and exit 0; a
 * second signal exits at once. Only mains handle signals.
 */
export async function runPart<C, R extends object>(o: RunPartOptions<C, R>): Promise<void> {
  const config = loadOrExit(o.part, o.spec, o.argv, o.load);
  const log = createLogger(`ringcast-${o.part}`);
  const app = o.create(config, log);
  const started = await startOrExit(o.part, app, log);
  log.info({ part: o.part, ...(started as Record<string, unknown>) }, 'listening');
  const shutdown = new Shutdown(app, log, o.drainOn ?? []);
  process.on('SIGTERM', () => void shutdown.stop('SIGTERM'));
  process.on('SIGINT', () => void shutdown.stop('SIGINT'));
  if (process.env[EXIT_WITH_PARENT_ENV] === '1') onParentGone(() => shutdown.parentGone());
}

/** Starts the app; when start fails, closes what it opened and exits 1. */
async function startOrExit<R>(part: string, app: PartLifecycle<R>, log: Logger): Promise<R> {
  try {
    return await app.start();
  } catch (err) {
    log.error({ err }, `${part} failed to start`);
    await app.close().catch(() => {});
    process.exit(1);
  }
}

/** A main's one way out: drain (for the signals that ask it) and close, once; a second signal exits at once. */
class Shutdown {
  private stopping = false;
  private parentIsGone = false;

  constructor(
    private readonly app: PartLifecycle<unknown>,
    private readonly log: Logger,
    private readonly drainOn: readonly NodeJS.Signals[],
  ) {}

  parentGone(): void {
    if (this.stopping) return;
    this.parentIsGone = true;
    void this.stop('parent gone');
  }

  async stop(signal: NodeJS.Signals | 'parent gone'): Promise<void> {
    if (this.stopping) process.exit(1);
    this.stopping = true;
    const drain = signal !== 'parent gone' && this.drainOn.includes(signal) && this.app.drain;
    this.log.info({ signal }, drain ? 'draining' : 'stopping');
    try {
      if (drain) await this.app.drain!();
      await this.app.close();
      this.exit(0);
    } catch (err) {
      this.log.error({ err }, 'shutdown failed');
      this.exit(1);
    }
  }

  private exit(code: number): void {
    // With the parent gone, stdout is a broken pipe, and pino's flush on 'exit' retries a write that
    // fails with EPIPE forever (sonic-boom 4): end without the exit hooks, the app already closed.
    if (this.parentIsGone) process.kill(process.pid, 'SIGKILL');
    process.exit(code);
  }
}

/**
 * For a part started by the demo or a test (spawnPart): stdin is a pipe from the parent, closed when
 * the parent dies, even by SIGKILL; the part then stops instead of running on as an orphan.
 */
function onParentGone(gone: () => void): void {
  process.stdin.once('end', gone);
  process.stdin.once('error', gone);
  process.stdin.resume();
}
