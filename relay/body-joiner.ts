import type { Logger } from '../common/log.ts';
import { ZERO_COPY_MIN_BYTES, type ZeroCopy, type ZeroCopyBody } from './zero-copy.ts';

/** Puts the complete bodies of fills into memfd regions for sendfile (relay/zero-copy.ts). */
export class BodyJoiner {
  private failed = false;

  constructor(
    private readonly zeroCopy: ZeroCopy | undefined,
    private readonly log: Logger,
  ) {}

  /**
   * A complete body of ZERO_COPY_MIN_BYTES or more in a memfd region; undefined (one Buffer) without
   * zero-copy, for small bodies, or when no region can be had (logged once: descriptors or memory ran out).
   */
  readonly join = (chunks: readonly Buffer[], size: number): ZeroCopyBody | undefined => {
    if (!this.zeroCopy || size < ZERO_COPY_MIN_BYTES) return undefined;
    try {
      const body = this.zeroCopy.join(chunks, size);
      this.failed = false;
      return body;
    } catch (err) {
      if (!this.failed)
        this.log.warn(
          { err: (err as Error).message },
          'zero-copy region failed; plain buffers until it works again',
        );
      this.failed = true;
      return undefined;
    }
  };
}
