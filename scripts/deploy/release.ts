/** The project as shipped to a host: its files (no node_modules, .git, tests or local data) and their digest. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DeployError } from './errors.ts';

/** Top-level entries a relay host does not need. */
const SKIP_TOP = new Set(['node_modules', '.git', '.data', 'tmp', 'test', 'bench', '.ci']);
const SKIP_FILE = /\.log$/;
/** Of the native module's build tree (native/build), only the module ships (scripts/setup.sh builds it). */
const NATIVE_BUILD = 'native/build/';
const NATIVE_MODULE = 'native/build/Release/zero_copy.node';

export interface Release {
  repoDir: string;
  /** Paths relative to repoDir, sorted. */
  files: string[];
  bytes: number;
  /** Changes when any shipped file's path, content or exec bit changes. */
  digest: string;
  /** Changes when package.json or package-lock.json changes: the host then runs `npm ci --omit=dev`. */
  depsDigest: string;
}

export function collectRelease(repoDir: string): Release {
  for (const need of ['package.json', 'package-lock.json', 'bin/ringcast.js']) {
    if (!existsSync(join(repoDir, need)))
      throw new DeployError('DEPLOY_USAGE', `${repoDir} is not a Ringcast checkout: ${need} is missing`);
  }
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(repoDir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (!rel && SKIP_TOP.has(entry.name)) continue;
      if (entry.isDirectory()) walk(path);
      else if (path.startsWith(NATIVE_BUILD) && path !== NATIVE_MODULE) continue;
      else if (entry.isFile() && !SKIP_FILE.test(entry.name)) files.push(path);
    }
  };
  walk('');
  files.sort();
  const all = createHash('sha256');
  let bytes = 0;
  for (const f of files) {
    const full = join(repoDir, f);
    const body = readFileSync(full);
    bytes += body.length;
    const exec = statSync(full).mode & 0o111 ? 'x' : '-';
    all.update(`${f}\0${exec}\0${createHash('sha256').update(body).digest('hex')}\n`);
  }
  const deps = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) deps.update(readFileSync(join(repoDir, f)));
  return { repoDir, files, bytes, digest: all.digest('hex'), depsDigest: deps.digest('hex') };
}

/** A tar stream of the release's files (system tar; the host extracts it with tar too). */
export function releaseTar(release: Release): Readable {
  const tar = spawn('tar', ['-C', release.repoDir, '--null', '-T', '-', '-cf', '-'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  tar.stdin.end(`${release.files.join('\0')}\0`);
  return tar.stdout;
}
