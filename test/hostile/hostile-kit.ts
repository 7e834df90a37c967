/** Raw-socket helpers for hostile-input tests: exact bytes on the wire, bounded in time. */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface RawAnswer {
  /** HTTP status, or 0 when the server closed (or kept silent) without a response. */
  status: number;
  text: string;
  closed: boolean;
}

/** Sends `data` to 127.0.0.1:`port` as is and reads until the server closes or `timeoutMs` passes. */
export function rawRequest(port: number, data: string | Buffer, timeoutMs = 3000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = false;
    const sock = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d) => {
      chunks.push(d);
      // One response is enough: stop once its body (by Content-Length) is in.
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(text.slice(0, head))?.[1];
      if (head >= 0 && len !== undefined && text.length >= head + 4 + Number(len)) done();
    });
    sock.on('error', () => {
      closed = true;
      done();
    });
    sock.on('end', () => {
      closed = true;
      done();
    });
    sock.write(data);
  });
}

/** The error code of a JSON error body in a raw answer, if any. */
export const errorCode = (a: RawAnswer): string => /"code":"([A-Z_]+)"/.exec(a.text)?.[1] ?? '';

/** One hostile case and what happened. */
export interface Outcome {
  group: string;
  target: string;
  input: string;
  outcome: string;
  ok: boolean;
}

/** Outcomes of this file, written for docs/reliability.md when the file ends. */
export class OutcomeLog {
  readonly outcomes: Outcome[] = [];
  add(o: Outcome): void {
    this.outcomes.push(o);
  }
  /**
   * Writes the outcomes to `$RINGCAST_HOSTILE_REPORT_DIR/ringcast-hostile-<name>.json` when that is set
   * (for docs/reliability.md); a plain test run leaves no file behind.
   */
  write(name: string, dir = process.env.RINGCAST_HOSTILE_REPORT_DIR): string | undefined {
    if (!dir) return undefined;
    const file = join(dir, `ringcast-hostile-${name}.json`);
    writeFileSync(file, JSON.stringify(this.outcomes, null, 1));
    return file;
  }
}
