/** The sh scripts run on a host over ssh. Every value in them is quoted; the secret only ever travels on stdin. */
import type { RemoteLayout } from './remote-layout.ts';
import { shQuote as q } from './ssh-client.ts';

/** `alive PID`: the process exists and is not a zombie (hosts whose init does not reap). */
const ALIVE = `alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }`;
/** Root runs systemctl itself; anyone else through sudo without a password prompt. */
const SUDO = `if [ "$(id -u)" = 0 ]; then S=; else S='sudo -n'; fi`;

/** Prints key=value facts: systemd, node, deployed digests, running. */
export function probeScript(l: RemoteLayout): string {
  return [
    ALIVE,
    'if [ -d /run/systemd/system ]; then echo systemd=yes; else echo systemd=no; fi',
    'echo "node=$(command -v node || true)"',
    `echo "release=$(cat ${q(l.releaseFile)} 2>/dev/null)"`,
    `echo "deps=$(cat ${q(l.depsFile)} 2>/dev/null)"`,
    `echo "digest=$(cat ${q(l.digestFile)} 2>/dev/null)"`,
    'if [ -d /run/systemd/system ]; then',
    `  if systemctl is-active --quiet ${q(l.unitName)}; then echo running=yes; else echo running=no; fi`,
    `  echo "pid=$(systemctl show -p MainPID --value ${q(l.unitName)} 2>/dev/null)"`,
    'else',
    `  p=$(cat ${q(l.pidFile)} 2>/dev/null)`,
    '  if alive "$p"; then echo running=yes; else echo running=no; fi',
    `  echo "pid=$(cat ${q(l.relayPidFile)} 2>/dev/null)"`,
    'fi',
  ].join('\n');
}

/** Extracts the release tar from stdin into a fresh app dir, then swaps it in. */
export function unpackScript(l: RemoteLayout, digest: string): string {
  const next = `${l.appDir}.new`;
  const old = `${l.appDir}.old`;
  return [
    'set -e',
    `mkdir -p ${q(l.dir)}`,
    `rm -rf ${q(next)} ${q(old)}`,
    `mkdir ${q(next)}`,
    `tar -x --no-same-owner -C ${q(next)} -f -`,
    `printf '%s\\n' ${q(digest)} > ${q(`${next}/.ringcast-release`)}`,
    `if [ -d ${q(l.appDir)} ]; then mv ${q(l.appDir)} ${q(old)}; fi`,
    `mv ${q(next)} ${q(l.appDir)}`,
    `rm -rf ${q(old)}`,
  ].join('\n');
}

/** Installs production dependencies next to the app (node resolves them from the parent dir). */
export function depsScript(l: RemoteLayout, digest: string): string {
  return [
    'set -e',
    `cd ${q(l.dir)}`,
    "command -v npm >/dev/null || { echo 'npm is not installed on this host (install Node.js 20 with npm)' >&2; exit 1; }",
    'cp app/package.json app/package-lock.json .',
    'npm ci --omit=dev --no-audit --no-fund --loglevel=error',
    `printf '%s\\n' ${q(digest)} > ${q(l.depsFile)}`,
  ].join('\n');
}

/** Writes stdin to `file` atomically with `mode`. */
export function writeFileScript(file: string, mode: string): string {
  const tmp = `${file}.tmp`;
  const dir = file.slice(0, file.lastIndexOf('/'));
  return [
    'set -e',
    'umask 077',
    `mkdir -p ${q(dir)}`,
    `cat > ${q(tmp)}`,
    `chmod ${mode} ${q(tmp)}`,
    `mv ${q(tmp)} ${q(file)}`,
  ].join('\n');
}

/** systemd: installs the rendered unit, checks it, enables and starts it. */
export function systemdStartScript(l: RemoteLayout): string {
  const dest = `/etc/systemd/system/${l.unitName}`;
  return [
    'set -e',
    SUDO,
    `$S install -m 644 ${q(l.unitFile)} ${q(dest)}`,
    `if command -v systemd-analyze >/dev/null; then systemd-analyze verify ${q(dest)} >&2 || echo "warning: systemd-analyze verify reported problems" >&2; fi`,
    '$S systemctl daemon-reload',
    `$S systemctl enable --now ${q(l.unitName)}`,
  ].join('\n');
}

/** systemd: stops the relay (SIGTERM, waits up to TimeoutStopSec); `disable` also keeps it off after reboot. */
export function systemdStopScript(l: RemoteLayout, disable: boolean): string {
  return ['set -e', SUDO, `$S systemctl ${disable ? 'disable --now' : 'stop'} ${q(l.unitName)} || true`].join(
    '\n',
  );
}

/** No systemd: starts the supervisor in its own session so that it outlives the ssh connection. */
export function supervisorStartScript(l: RemoteLayout): string {
  return [
    'set -e',
    ALIVE,
    `p=$(cat ${q(l.pidFile)} 2>/dev/null || true)`,
    'if alive "$p"; then echo "already running (pid $p)"; exit 0; fi',
    `rm -f ${q(l.pidFile)} ${q(l.relayPidFile)}`,
    `chmod 755 ${q(l.supervisorFile)}`,
    `if command -v setsid >/dev/null; then setsid sh ${q(l.supervisorFile)} </dev/null >/dev/null 2>&1 &`,
    `else nohup sh ${q(l.supervisorFile)} </dev/null >/dev/null 2>&1 & fi`,
    'i=0',
    `while [ ! -s ${q(l.relayPidFile)} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done`,
    `[ -s ${q(l.relayPidFile)} ] || { echo 'supervisor did not start the relay' >&2; exit 1; }`,
  ].join('\n');
}

/** No systemd: SIGTERM to the supervisor (it stops the relay, which drains), waits, SIGKILL after `graceS`. */
export function supervisorStopScript(l: RemoteLayout, graceS: number): string {
  const ticks = graceS * 5;
  return [
    ALIVE,
    `p=$(cat ${q(l.pidFile)} 2>/dev/null)`,
    `r=$(cat ${q(l.relayPidFile)} 2>/dev/null)`,
    'for x in "$p" "$r"; do',
    '  alive "$x" || continue',
    '  kill -TERM "$x" 2>/dev/null',
    `  i=0; while alive "$x" && [ $i -lt ${ticks} ]; do sleep 0.2; i=$((i + 1)); done`,
    '  if alive "$x"; then kill -KILL "$x"; echo "killed $x after the grace period" >&2; fi',
    'done',
    `rm -f ${q(l.pidFile)} ${q(l.relayPidFile)}`,
  ].join('\n');
}

/** The relay's last log lines: the journal under systemd, else its log file. */
export function logsScript(l: RemoteLayout, systemd: boolean, lines: number): string {
  return systemd
    ? `journalctl -u ${q(l.unitName)} -n ${lines} --no-pager -o cat 2>&1 || true`
    : `tail -n ${lines} ${q(l.logFile)} 2>&1 || true`;
}
