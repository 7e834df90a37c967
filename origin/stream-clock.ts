/**
 * One wall clock per stream per transcoder run, so renditions agree on PROGRAM-DATE-TIME: anchored at
 * the first fragment's arrival minus its duration, then advanced by media time. Until the first PDT is
 * handed out the anchor may only move earlier: node-media-server replays its cached GOP to the
 * transcoder in a burst, so early fragments arrive later than real time would have them.
 */
export class StreamClock {
  private anchorMs: number | undefined;
  private t0 = 0;
  private frozen = false;

  /** A fragment covering media time [seconds, seconds + durationSeconds) arrived at `nowMs`. */
  observe(seconds: number, durationSeconds: number, nowMs = Date.now()): void {
    if (this.anchorMs === undefined) {
      this.t0 = seconds;
      this.anchorMs = nowMs - durationSeconds * 1000;
      return;
    }
    if (this.frozen) return;
    const bound = nowMs - (seconds + durationSeconds - this.t0) * 1000;
    if (bound < this.anchorMs) this.anchorMs = bound;
  }

  /** PDT of media time `seconds`; fixes the anchor from now on. */
  at(seconds: number): Date {
    this.frozen = true;
    return new Date((this.anchorMs ?? Date.now()) + (seconds - this.t0) * 1000);
  }
}
