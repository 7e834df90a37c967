/** The cluster secret: read from a file, written to an env file (mode 600), never put on a command line. */
import { readFileSync } from 'node:fs';
import { DeployError } from './errors.ts';

/** Reads the secret (first line, trimmed); a missing, empty or unusable file is a DEPLOY_SECRET_MISSING. */
export function readSecret(file: string | undefined): string {
  if (!file) {
    throw new DeployError(
      'DEPLOY_SECRET_MISSING',
      'no cluster secret: pass --secret-file FILE (a file holding the secret the coordinator was started with)',
    );
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
    throw new DeployError('DEPLOY_SECRET_MISSING', `secret file ${file} ${why}`, { cause: err });
  }
  const secret = text.split('\n')[0]!.trim();
  if (secret === '') throw new DeployError('DEPLOY_SECRET_MISSING', `secret file ${file} is empty`);
  // The env file quotes the value for both systemd and sh; these characters would need escaping in one of them.
  if (!/^[\x21-\x7e]+$/.test(secret) || /['"\\$`]/.test(secret)) {
    throw new DeployError(
      'DEPLOY_SECRET_MISSING',
      `secret in ${file} must be printable ASCII without spaces, quotes, backslash, '$' or backtick`,
    );
  }
  if (secret.length < 8) {
    throw new DeployError('DEPLOY_SECRET_MISSING', `secret in ${file} is shorter than 8 characters`);
  }
  return secret;
}

/** Env file text read by systemd (EnvironmentFile=) and by the supervisor script (`. file`). */
export function envFileText(secret: string): string {
  return `# Ringcast relay: cluster secret. Mode 600; written by scripts/deploy-relays.\nRINGCAST_CLUSTER_SECRET='${secret}'\n`;
}

/** Parses an env file written by envFileText (KEY='value' or KEY=value lines). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(?:'([^']*)'|(.*))$/.exec(line.trim());
    if (m) out[m[1]!] = m[2] ?? m[3] ?? '';
  }
  return out;
}
