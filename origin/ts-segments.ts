import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.ts';
import { segmentFileName } from '../common/names.ts';
import type { PublishedSegment } from './segment-types.ts';

/** Remuxes one fMP4 segment (with its init section) to MPEG-TS; timestamps kept, so segments join up. */
export function remuxToTs(ffmpegPath: string, init: Buffer, segment: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      ffmpegPath,
      [
        ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'mp4', '-i', 'pipe:0'],
        ...[
          '-map',
          '0',
          '-c',
          'copy',
          '-copyts',
          '-muxdelay',
          '0',
          '-muxpreload',
          '0',
          '-f',
          'mpegts',
          'pipe:1',
        ],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-500);
    });
    child.stdin.on('error', () => {}); // an early exit is reported below
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new Error(`ffmpeg remux exited ${code}: ${err.trim()}`)),
    );
    child.stdin.end(Buffer.concat([init, segment]));
  });
}

export interface TsSegmentsOptions {
  ffmpegPath: string;
  /** `<dataDir>/<streamId>`. */
  dir: string;
  windowSegments: number;
  retainSegments: number;
  log: Logger;
  /** A `.ts` segment is on disk (announce it). */
  onSegment?: (rendition: string, segment: PublishedSegment) => void;
}

/**
 * `segmentFormat=ts`: each finished fMP4 segment is remuxed (ffmpeg `-c copy`) to `<msn>.ts` beside it,
 * in order per rendition; the `.ts` window has the same numbers, durations, PDT and discontinuities.
 */
export class TsSegments {
  private readonly opts: TsSegmentsOptions;
  private readonly windows = new Map<string, PublishedSegment[]>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(opts: TsSegmentsOptions) {
    this.opts = opts;
  }

  /** The `.ts` segments of a rendition's window. */
  segments(rendition: string): readonly PublishedSegment[] {
    return this.windows.get(rendition) ?? [];
  }

  /** An fMP4 segment is on disk: remux it after the ones before it. */
  add(rendition: string, segment: PublishedSegment, init: Buffer): void {
    const queued = (this.queues.get(rendition) ?? Promise.resolve()).then(() =>
      this.remux(rendition, segment, init).catch((err: Error) =>
        this.opts.log.error({ rendition, msn: segment.msn, err: err.message }, 'MPEG-TS remux failed'),
      ),
    );
    this.queues.set(rendition, queued);
  }

  /** Resolves once every queued remux is done. */
  async flushed(): Promise<void> {
    await Promise.all(this.queues.values());
  }

  private async remux(rendition: string, segment: PublishedSegment, init: Buffer): Promise<void> {
    const dir = join(this.opts.dir, rendition);
    const data = await remuxToTs(this.opts.ffmpegPath, init, await readFile(join(dir, segment.file)));
    const file = segmentFileName(segment.msn, '.ts');
    const tmp = join(dir, `.${file}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, join(dir, file));
    const ts: PublishedSegment = {
      ...segment,
      file,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      initName: '',
      parts: [],
      pending: undefined,
    };
    const window = this.windows.get(rendition) ?? [];
    window.push(ts);
    if (window.length > this.opts.windowSegments) window.shift();
    this.windows.set(rendition, window);
    const expired = segment.msn - this.opts.retainSegments;
    if (expired >= 0) await rm(join(dir, segmentFileName(expired, '.ts')), { force: true });
    this.opts.onSegment?.(rendition, ts);
  }
}
