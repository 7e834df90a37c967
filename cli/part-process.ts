import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT_WITH_PARENT_ENV } from '../common/cli.ts';

const BIN = fileURLToPath(new URL('../bin/ringcast.js', import.meta.url));

export type PartName = 'coordinator' | 'origin' | 'relay';

/** A part running as a child process; `url` is known once it logged its `listening` line. */
export interface PartProcess {
  part: PartName;
  child: ChildProcess;
  url: string;
  /** Origin only. */
  rtmpUrl?: string;
  /** Origin with a certificate only. */
  rtmpsUrl?: string;
  /** Relay only. */
  id?: string;
  /** The last log lines, for error messages. */
  tail: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

export interface SpawnPartOptions {
  part: PartName;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Every log line is appended here when set. */
  logFile?: string;
  /** Called with each parsed log line (pino JSON). */
  onLog?: (line: Record<string, unknown>, raw: string) => void;
  startTimeoutMs?: number;
  /** Flags for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

/** How many of a part's last log lines are kept for error messages. */
const TAIL_LINES = 30;

/** A pino JSON line as an object; undefined for anything else (a stack trace, a warning from node). */
export function parseLogLine(raw: string): Record<string, unknown> | undefined {
  try {
    const line: unknown = JSON.parse(raw);
    return line !== null && typeof line === 'object' && !Array.isArray(line)
      ? (line as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What a part's `listening` line tells (runPart logs it once started); undefined for any other line. */
export function listeningInfo(
  line: Record<string, unknown>,
): Pick<PartProcess, 'url' | 'rtmpUrl' | 'rtmpsUrl' | 'id'> | undefined {
  if (line.msg !== 'listening' || typeof line.url !== 'string') return undefined;
  return {
    url: line.url,
    rtmpUrl: typeof line.rtmpUrl === 'string' ? line.rtmpUrl : undefined,
    id: typeof line.id === 'string' ? line.id : undefined,
    ...(typeof line.rtmpsUrl === 'string' ? { rtmpsUrl: line.rtmpsUrl } : {}),
  };
}

/** Starts `ringcast <part>` and resolves once it logs `listening`; rejects with its last lines if it dies first. */
export function spawnPart(opts: SpawnPartOptions): Promise<PartProcess> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, opts.part, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env, [EXIT_WITH_PARENT_ENV]: '1' },
    // stdin stays open while this process lives: the part stops when it closes (runPart).
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const file: WriteStream | undefined = opts.logFile
    ? createWriteStream(opts.logFile, { flags: 'a' })
    : undefined;
  const exited = exitOf(child, file);
  const lastLines = () => tail.join('\n');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${opts.part} did not start in time; last lines:\n${lastLines()}`));
    }, opts.startTimeoutMs ?? 20_000);
    const onLine = (raw: string) => {
      tail.push(raw);
      if (tail.length > TAIL_LINES) tail.shift();
      file?.write(`${raw}\n`);
      const line = parseLogLine(raw);
      if (!line) return;
      opts.onLog?.(line, raw);
      const listening = listeningInfo(line);
      if (!listening) return;
      clearTimeout(timer);
      resolve({ part: opts.part, child, ...listening, tail, exited });
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.part} exited (${code}) before it was ready; last lines:\n${lastLines()}`));
    });
  });
}

/** Resolves with the exit code (or signal name) when the child ends, after closing its log file. */
function exitOf(child: ChildProcess, file: WriteStream | undefined): Promise<number | string> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      file?.end();
      resolve(code ?? signal ?? -1);
    });
  });
}

/** Stops a part: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPart(p: PartProcess, graceMs = 8000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}
