import { EventEmitter } from 'node:events';
import { readFileSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from './log.ts';

/** Anything that can take a new certificate for new connections (https, http2 and tls servers). */
export interface SecureContextHolder {
  setSecureContext(options: SecureContextOptions): void;
}

export interface TlsFilesOptions {
  certFile: string;
  keyFile: string;
  log: Logger;
  /** How often the files' status is read; a renewal is picked up within this. */
  pollMs?: number;
}

/**
 * A certificate and key read from PEM files (`--tls-cert`, `--tls-key`; a chain in the cert file is
 * sent whole), re-read when either changes on disk, as certbot's renewal does by swapping links.
 *
 * A renewal is picked up without a restart and without dropping a connection: servers get the new
 * context for new handshakes, open connections keep theirs. A pair that does not load (half written,
 * key not matching) is logged once per change and the previous pair stays in use; the next change
 * is tried again. Emits `reloaded` after a new pair is in use and `rejected` (with the reason) otherwise.
 */
export class TlsFiles extends EventEmitter {
  private current: SecureContextOptions;
  private readonly holders = new Set<SecureContextHolder>();
  private readonly pollMs: number;
  private watching = false;

  constructor(private readonly opts: TlsFilesOptions) {
    super();
    this.pollMs = opts.pollMs ?? 2000;
    // At start a bad pair is fatal, with the reason: a part must not come up without its certificate.
    this.current = loadPair(opts.certFile, opts.keyFile);
  }

  /** The options a server is created with (`cert`, `key`). */
  get options(): SecureContextOptions {
    return this.current;
  }

  /** Starts watching the files and gives every later renewal to `holder`. Idempotent per holder. */
  serve(holder: SecureContextHolder): void {
    this.holders.add(holder);
    if (this.watching) return;
    this.watching = true;
    const onChange = (now: Stats, before: Stats) => {
      if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) this.reload();
    };
    watchFile(this.opts.certFile, { interval: this.pollMs, persistent: false }, onChange);
    watchFile(this.opts.keyFile, { interval: this.pollMs, persistent: false }, onChange);
  }

  /** Reads the files now; on success every server gets the pair for its next handshakes. */
  reload(): boolean {
    let next: SecureContextOptions;
    try {
      next = loadPair(this.opts.certFile, this.opts.keyFile);
    } catch (err) {
      const reason = (err as Error).message;
      this.opts.log.error(
        { cert: this.opts.certFile, reason },
        'certificate renewal not loaded: still serving the previous one',
      );
      this.emit('rejected', reason);
      return false;
    }
    this.current = next;
    for (const holder of this.holders) holder.setSecureContext(next);
    this.opts.log.info({ cert: this.opts.certFile }, 'certificate reloaded');
    this.emit('reloaded');
    return true;
  }

  /** Stops watching. */
  close(): void {
    if (!this.watching) return;
    this.watching = false;
    unwatchFile(this.opts.certFile);
    unwatchFile(this.opts.keyFile);
    this.holders.clear();
  }
}

/** Reads and checks a pair; throws with a message that names the file and the problem. */
export function loadPair(certFile: string, keyFile: string): SecureContextOptions {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`${certFile} and ${keyFile} do not make a pair: ${(err as Error).message}`);
  }
  return { cert, key };
}

function readPem(file: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (!pem.includes('-----BEGIN ')) throw new Error(`the TLS ${what} ${file} is not PEM`);
  return pem;
}
