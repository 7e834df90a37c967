import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../common/config.ts';

/** The demo's cluster secret and where it came from; `file` is where a grown fleet can read it. */
export interface DemoSecret {
  secret: string;
  source: 'file' | 'env' | 'generated';
  /** The operator's file, or the generated secret's (mode 600); absent when it came from the environment. */
  file?: string;
}

/**
 * The operator's secret (`--cluster-secret-file`, else RINGCAST_CLUSTER_SECRET), else a new one written
 * to `<dataDir>/cluster-secret` (mode 600) so `scripts/deploy-relays local --secret-file` can grow the
 * demo. The secret only ever reaches the parts through their environment.
 */
export function resolveDemoSecret(opts: {
  file: string;
  env: NodeJS.ProcessEnv;
  dataDir: string;
}): DemoSecret {
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`'clusterSecretFile' ${opts.file} cannot be read (${(err as Error).message})`]);
    }
    const secret = text.split('\n')[0]!.trim();
    if (!secret) throw new ConfigError([`'clusterSecretFile' ${opts.file} is empty`]);
    return { secret, source: 'file', file: opts.file };
  }
  const fromEnv = opts.env.RINGCAST_CLUSTER_SECRET?.trim();
  if (fromEnv) return { secret: fromEnv, source: 'env' };
  const secret = randomBytes(18).toString('base64url');
  const file = join(opts.dataDir, 'cluster-secret');
  // A new file every run, created exclusively: an older one (or a symlink planted in its place) is
  // removed, never written through, so the secret lands nowhere else and the mode applies.
  rmSync(file, { force: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, source: 'generated', file };
}
