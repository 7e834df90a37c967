import { join } from 'node:path';
import { type DemoCa, type IssuedCert, issueCert, openDemoCa } from '../common/demo-ca.ts';

/** The demo's certificates (`ringcast demo --tls true`): a CA kept in `DATA_DIR/tls/`, one leaf for every part. */
export interface DemoTls {
  /** `DATA_DIR/tls/ca.pem`: what a browser, curl or OBS is told to trust. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The names and addresses the certificate is good for. */
  hosts: string[];
}

/** The part a set of arguments is for. */
export type DemoPart = 'coordinator' | 'origin' | 'relay';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** The names the parts are reached by: the bound host (unless a wildcard) and this machine's loopback. */
export function demoTlsHosts(host: string): string[] {
  const named = WILDCARDS.has(host) ? [] : [host.replace(/^\[|\]$/g, '')];
  return [...new Set([...named, 'localhost', '127.0.0.1', '::1'])];
}

/**
 * Makes the CA in `DATA_DIR/tls/` on the first run and reuses it after (a browser trusts it once), and
 * issues the parts' certificate again on every start (it then names the host of this run).
 */
export async function prepareDemoTls(dataDir: string, host: string): Promise<DemoTls> {
  const ca: DemoCa = await openDemoCa(join(dataDir, 'tls'));
  const hosts = demoTlsHosts(host);
  const cert: IssuedCert = await issueCert(ca, 'cluster', hosts);
  return { caFile: ca.caFile, certFile: cert.certFile, keyFile: cert.keyFile, hosts };
}

/**
 * The flags a part gets with --tls true; none without (a plain demo is unchanged). The coordinator and
 * relays serve HTTPS and trust the CA on their links; the origin opens RTMPS on `rtmpsPort` (its HTTP
 * stays plain: relays reach it on loopback).
 */
export function demoTlsArgs(part: DemoPart, tls: DemoTls | undefined, rtmpsPort: number): string[] {
  if (!tls) return [];
  const pair = ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile];
  if (part === 'origin') return [...pair, '--rtmps-port', String(rtmpsPort)];
  // Relays trust the CA on their links (peers, origin, coordinator); the coordinator makes no TLS calls.
  return part === 'relay' ? [...pair, '--tls-ca', tls.caFile] : pair;
}

/** The environment every part gets with --tls true: Node's own clients (fetch) trust the demo CA. */
export function demoTlsEnv(tls: DemoTls | undefined): NodeJS.ProcessEnv {
  return tls ? { NODE_EXTRA_CA_CERTS: tls.caFile } : {};
}

/** What the demo prints so a person can trust the CA: curl, Chromium (NSS), and the system store. */
export function trustLines(tls: DemoTls): string[] {
  return [
    `curl:            curl --cacert ${tls.caFile} https://…`,
    `Chromium:        certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n ringcast-demo -i ${tls.caFile}`,
    `System (Debian): sudo cp ${tls.caFile} /usr/local/share/ca-certificates/ringcast-demo.crt && sudo update-ca-certificates`,
  ];
}
