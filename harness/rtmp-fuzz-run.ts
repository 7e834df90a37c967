import { connect } from 'node:net';
import { type FuzzCase, type FuzzCaseKind, fuzzCase } from './rtmp-fuzz-chunks.ts';

/** How to run a batch of fuzz cases against an RTMP port. */
export interface RtmpFuzzOptions {
  port: number;
  host?: string;
  seed: number;
  /** Cases `first` … `first + cases - 1` of the seed. */
  cases: number;
  first?: number;
  /** Connections open at once. */
  concurrency?: number;
  /** A case whose connection is still open after this is cut (and counted as held). */
  caseTimeoutMs?: number;
  /** Stop early (the caller saw the server die). */
  stop?: () => boolean;
}

/** What a batch did. */
export interface RtmpFuzzResult {
  cases: number;
  /** Connections the server closed or reset (after our end, or on its own). */
  closed: number;
  /** Connections still open at caseTimeoutMs (the server kept waiting for more bytes). */
  held: number;
  /** Connections refused at connect (the server was not listening). */
  refused: number;
  byKind: Record<FuzzCaseKind, number>;
  elapsedMs: number;
  /** The first case whose connection was refused, for replay. */
  firstRefused?: number;
}

type CaseOutcome = 'closed' | 'held' | 'refused';

/** Sends one case's bytes on a new connection, half-closes, and waits for the server to close. */
function runCase(c: FuzzCase, port: number, host: string, timeoutMs: number): Promise<CaseOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    const sock = connect(port, host);
    const timer = setTimeout(() => finish('held'), timeoutMs);
    const finish = (o: CaseOutcome) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    sock.on('connect', () => {
      connected = true;
      sock.end(c.bytes);
    });
    sock.on('data', () => {}); // read and drop what the server answers
    sock.on('error', () => finish(connected ? 'closed' : 'refused'));
    sock.on('close', () => finish('closed'));
  });
}

/** Runs the cases with `concurrency` connections at once; resolves with the counts. */
export async function runRtmpFuzz(opts: RtmpFuzzOptions): Promise<RtmpFuzzResult> {
  const started = Date.now();
  const host = opts.host ?? '127.0.0.1';
  const first = opts.first ?? 0;
  const result: RtmpFuzzResult = {
    cases: 0,
    closed: 0,
    held: 0,
    refused: 0,
    byKind: { command: 0, control: 0, media: 0, header: 0, raw: 0 },
    elapsedMs: 0,
  };
  let next = first;
  const worker = async () => {
    while (next < first + opts.cases && !opts.stop?.()) {
      const c = fuzzCase(opts.seed, next++);
      const outcome = await runCase(c, opts.port, host, opts.caseTimeoutMs ?? 5000);
      result.cases += 1;
      result.byKind[c.kind] += 1;
      result[outcome] += 1;
      if (outcome === 'refused') result.firstRefused ??= c.index;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 32 }, worker));
  result.elapsedMs = Date.now() - started;
  return result;
}
