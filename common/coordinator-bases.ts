/**
 * Several coordinator base URLs (coordinators sharing state through Redis): calls go to the one that
 * answered last and move on to the next when it cannot be reached or fails (5xx), trying each once.
 */
export class CoordinatorBases {
  private readonly bases: string[];
  private index = 0;

  constructor(urls: readonly string[]) {
    this.bases = urls.map((u) => u.replace(/\/+$/, '')).filter((u) => u !== '');
  }

  get size(): number {
    return this.bases.length;
  }

  /** Every base once, the one that answered last first. */
  order(): string[] {
    return this.bases.map((_, i) => this.bases[(this.index + i) % this.bases.length]!);
  }

  /** The base calls go to now (the one that answered last). */
  get current(): string {
    return this.bases[this.index] ?? '';
  }

  /**
   * Moves on to the next base after a failure, for callers that hold one coordinator at a time (a
   * relay's event stream); false when there is no other.
   */
  next(): boolean {
    if (this.bases.length < 2) return false;
    this.index = (this.index + 1) % this.bases.length;
    return true;
  }

  /** Remembers `base` as the one that answered. */
  prefer(base: string): void {
    const i = this.bases.indexOf(base);
    if (i >= 0) this.index = i;
  }

  /**
   * Runs `call` on each base in `order()` until one succeeds or fails with an answer (a 4xx is the
   * coordinator's verdict, not an outage); throws the last error when none did.
   */
  async call<T>(call: (base: string) => Promise<T>): Promise<T> {
    let last: unknown = new Error('no coordinator URL configured');
    for (const base of this.order()) {
      try {
        const result = await call(base);
        this.prefer(base);
        return result;
      } catch (err) {
        last = err;
        if (/HTTP 4\d\d/.test(String(err))) {
          this.prefer(base);
          throw err;
        }
      }
    }
    throw last;
  }
}
