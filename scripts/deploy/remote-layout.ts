/** Where a relay's files live on a host, and the unit and supervisor script rendered from the templates. */
import { readFileSync } from 'node:fs';
import type { HostEntry } from './hosts-file.ts';

const TEMPLATE_DIR = new URL('./', import.meta.url);

/** Files on the host under remote-dir: one app and node_modules per dir, per relay files under relays/. */
export interface RemoteLayout {
  dir: string;
  /** The project (replaced as a whole on a new release). */
  appDir: string;
  /** Digest of the release in appDir. */
  releaseFile: string;
  /** Digest of package.json + package-lock.json behind dir/node_modules. */
  depsFile: string;
  relaysDir: string;
  envFile: string;
  unitName: string;
  /** The rendered unit, kept next to the relay's other files (and installed in /etc/systemd/system). */
  unitFile: string;
  supervisorFile: string;
  /** Supervisor pid (hosts without systemd). */
  pidFile: string;
  /** Relay process pid (hosts without systemd). */
  relayPidFile: string;
  logFile: string;
  /** Digest of everything deployed for this relay: unchanged digest and a running relay → nothing to do. */
  digestFile: string;
}

export function remoteLayout(h: HostEntry): RemoteLayout {
  const relaysDir = `${h.remoteDir}/relays`;
  const base = `${relaysDir}/${h.id}`;
  return {
    dir: h.remoteDir,
    appDir: `${h.remoteDir}/app`,
    releaseFile: `${h.remoteDir}/app/.ringcast-release`,
    depsFile: `${h.remoteDir}/.ringcast-deps`,
    relaysDir,
    envFile: `${base}.env`,
    unitName: `ringcast-relay-${h.id}.service`,
    unitFile: `${base}.service`,
    supervisorFile: `${base}.supervise.sh`,
    pidFile: `${base}.pid`,
    relayPidFile: `${base}.relay.pid`,
    logFile: `${base}.log`,
    digestFile: `${base}.digest`,
  };
}

/** Replaces `{{NAME}}`; a line whose placeholder value is empty is left out (e.g. `User=` without --run-as). */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template
    .split('\n')
    .filter((line) => [...line.matchAll(/\{\{([A-Z_]+)\}\}/g)].every((m) => values[m[1]!] !== ''))
    .map((line) =>
      line.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
        const v = values[name];
        if (v === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
        return v;
      }),
    )
    .join('\n');
}

function values(h: HostEntry, l: RemoteLayout, node: string, coordinatorUrl: string): Record<string, string> {
  return {
    ID: h.id,
    NODE: node,
    APP_DIR: l.appDir,
    ENV_FILE: l.envFile,
    LISTEN: h.listen,
    PORT: String(h.relayPort),
    PUBLIC_URL: h.publicUrl,
    COORDINATOR_URL: coordinatorUrl,
    CACHE_BYTES: String(h.relay.cacheBytes),
    CAPACITY: String(h.relay.capacity),
    DRAIN_MS: String(h.relay.drainMs),
    // Longer than the drain, so that systemd does not SIGKILL a relay that is still handing viewers over.
    TIMEOUT_STOP_SEC: String(Math.ceil(h.relay.drainMs / 1000) + 15),
    RUN_AS: h.runAs ?? '',
    PID_FILE: l.pidFile,
    RELAY_PID_FILE: l.relayPidFile,
    LOG_FILE: l.logFile,
  };
}

/** The systemd unit for this relay. `%` is systemd's specifier character, so it is doubled. */
export function renderUnit(h: HostEntry, l: RemoteLayout, node: string, coordinatorUrl: string): string {
  const v = Object.fromEntries(
    Object.entries(values(h, l, node, coordinatorUrl)).map(([k, x]) => [k, x.replace(/%/g, '%%')]),
  );
  return renderTemplate(readFileSync(new URL('ringcast-relay.service.template', TEMPLATE_DIR), 'utf8'), v);
}

/** The supervisor script for hosts without systemd. */
export function renderSupervisor(
  h: HostEntry,
  l: RemoteLayout,
  node: string,
  coordinatorUrl: string,
): string {
  if (/'/.test(coordinatorUrl)) throw new Error('coordinator URL must not contain a quote');
  return renderTemplate(
    readFileSync(new URL('relay-supervisor.sh.template', TEMPLATE_DIR), 'utf8'),
    values(h, l, node, coordinatorUrl),
  );
}
