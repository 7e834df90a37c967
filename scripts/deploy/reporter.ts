/** Progress output of the deploy script: one line per step, prefixed with the relay or host it concerns. */
export class Reporter {
  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  info(message: string): void {
    this.out.write(`${message}\n`);
  }

  /** A step for one target: `[relay-8081] started (pid 123)`. */
  step(target: string, message: string): void {
    this.out.write(`[${target}] ${message}\n`);
  }

  /** What a dry run would do. */
  wouldDo(target: string, message: string): void {
    this.out.write(`[${target}] would ${message}\n`);
  }

  /** A block of text (a rendered unit, log lines), indented under the previous line. */
  block(lines: string | readonly string[]): void {
    const list = typeof lines === 'string' ? lines.replace(/\n$/, '').split('\n') : lines;
    for (const line of list) this.out.write(`    ${line}\n`);
  }

  warn(target: string, message: string): void {
    this.err.write(`[${target}] warning: ${message}\n`);
  }

  error(message: string, details: readonly string[] = []): void {
    this.err.write(`error: ${message}\n`);
    for (const line of details) this.err.write(`    ${line}\n`);
  }
}
