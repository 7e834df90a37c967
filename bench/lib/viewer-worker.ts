/**
 * One simulator process: runs `count` simulated HLS viewers (harness/hls-reader.ts) until told
 * to stop, then sends back what they saw and its own CPU time. Forked by viewer-pool.ts, so that at
 * thousands of viewers the relays, not one simulator event loop, are what is measured.
 */
import { setMaxListeners } from 'node:events';
import { type ReaderStats, readHls } from '../../harness/hls-reader.ts';

export interface WorkerStart {
  type: 'start';
  masterUrl: string;
  prefix: string;
  from: number;
  count: number;
  /** Viewers arrive over this long, as a real audience does. */
  rampMs: number;
  /** Player request timeout (hls-reader default when absent). */
  requestTimeoutMs?: number;
}

/** One viewer's outcome, as plain JSON. */
export interface ViewerSummary {
  segments: number;
  bytes: number;
  errors: number;
  stalls: number;
  stallMs: number;
  relayBytes: Record<string, number>;
  relaySegments: Record<string, number>;
  lastError?: string;
}

export interface WorkerResult {
  type: 'result';
  viewers: ViewerSummary[];
  ttfbMs: number[];
  segmentMs: number[];
  cpuMs: number;
  wallMs: number;
}

const controller = new AbortController();
setMaxListeners(0, controller.signal);
let readers: Promise<ReaderStats>[] = [];
let cpuStart = process.cpuUsage();
let wallStart = performance.now();

async function start(msg: WorkerStart): Promise<void> {
  cpuStart = process.cpuUsage();
  wallStart = performance.now();
  const gap = msg.count > 1 ? msg.rampMs / msg.count : 0;
  for (let i = 0; i < msg.count && !controller.signal.aborted; i++) {
    const n = msg.from + i;
    readers.push(
      readHls({
        masterUrl: `${msg.masterUrl}?session=${msg.prefix}-${n}`,
        variant: n % 2,
        signal: controller.signal,
        requestTimeoutMs: msg.requestTimeoutMs,
      }),
    );
    if (gap >= 1) await new Promise((r) => setTimeout(r, gap));
  }
}

async function stop(): Promise<void> {
  controller.abort();
  const stats = await Promise.all(readers);
  readers = [];
  const cpu = process.cpuUsage(cpuStart);
  const result: WorkerResult = {
    type: 'result',
    viewers: stats.map((s) => ({
      segments: s.segments,
      bytes: s.bytes,
      errors: s.errors,
      stalls: s.stalls,
      stallMs: s.stallMs,
      relayBytes: Object.fromEntries(s.relayBytes),
      relaySegments: Object.fromEntries(s.relays),
      lastError: s.lastError,
    })),
    ttfbMs: stats.flatMap((s) => s.ttfbMs),
    segmentMs: stats.flatMap((s) => s.segmentMs),
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: performance.now() - wallStart,
  };
  process.send!(result, () => process.exit(0));
}

process.on('message', (msg: WorkerStart | { type: 'stop' }) => {
  if (msg.type === 'start') void start(msg);
  else void stop();
});
process.on('disconnect', () => process.exit(0));
