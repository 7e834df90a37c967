import { execFile } from 'node:child_process';
import { access, chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A private certificate authority for the demo and the tests (issue 16): `openssl` makes an ECDSA P-256
 * CA once per directory, then leaf certificates for the names and addresses a part is reached by.
 * Private keys are written 0600. Not for production: there, certificates come from the operator
 * (certbot or a company CA) and are only read (common/tls-files.ts).
 */
export interface DemoCa {
  dir: string;
  /** The CA certificate a client trusts (`DIR/ca.pem`). */
  caFile: string;
  caKeyFile: string;
}

export interface IssuedCert {
  certFile: string;
  keyFile: string;
}

const CA_DAYS = 3650;
const LEAF_DAYS = 90;

/** Makes (or reuses) the CA in `dir`. */
export async function openDemoCa(dir: string): Promise<DemoCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca: DemoCa = { dir, caFile: join(dir, 'ca.pem'), caKeyFile: join(dir, 'ca-key.pem') };
  if ((await exists(ca.caFile)) && (await exists(ca.caKeyFile))) return ca;
  await newKey(ca.caKeyFile);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.caKeyFile,
    '-out',
    ca.caFile,
    '-days',
    String(CA_DAYS),
    '-subj',
    '/CN=Ringcast demo CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return ca;
}

/**
 * Issues a leaf certificate for `hosts` (DNS names and IP addresses; the first is the common name),
 * signed by `ca`, as `DIR/<name>.pem` and `DIR/<name>-key.pem`. Issuing again replaces both files
 * (that is how a test renews a certificate on disk).
 */
export async function issueCert(ca: DemoCa, name: string, hosts: readonly string[]): Promise<IssuedCert> {
  if (!/^[a-z0-9-]{1,64}$/.test(name))
    throw new Error(`certificate name '${name}' must match [a-z0-9-]{1,64}`);
  if (hosts.length === 0) throw new Error('a certificate needs at least one host');
  const out: IssuedCert = { certFile: join(ca.dir, `${name}.pem`), keyFile: join(ca.dir, `${name}-key.pem`) };
  const tmp = join(ca.dir, `.${name}-${process.pid}-${Date.now()}`);
  try {
    await newKey(`${tmp}.key`);
    await openssl(['req', '-new', '-key', `${tmp}.key`, '-out', `${tmp}.csr`, '-subj', `/CN=${hosts[0]}`]);
    await writeFile(`${tmp}.ext`, leafExtensions(hosts));
    await openssl([
      'x509',
      '-req',
      '-in',
      `${tmp}.csr`,
      '-CA',
      ca.caFile,
      '-CAkey',
      ca.caKeyFile,
      '-CAcreateserial',
      '-out',
      `${tmp}.pem`,
      '-days',
      String(LEAF_DAYS),
      '-extfile',
      `${tmp}.ext`,
    ]);
    // Key first, then certificate: a reader that sees the new certificate finds its key already there.
    await rename(`${tmp}.key`, out.keyFile);
    await rename(`${tmp}.pem`, out.certFile);
  } finally {
    await Promise.all(['.key', '.csr', '.ext', '.pem'].map((ext) => rm(`${tmp}${ext}`, { force: true })));
  }
  return out;
}

/** The subjectAltName and usage lines for a server certificate naming `hosts`. */
export function leafExtensions(hosts: readonly string[]): string {
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  return [
    `subjectAltName=${san}`,
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth,clientAuth',
    '',
  ].join('\n');
}

async function newKey(file: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  await chmod(file, 0o600);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
