/**
 * `ringcast token STREAM --ttl 10m [--network CIDR] [--url BASE]`: mints a playback token for a private
 * stream locally (no call to the coordinator) and prints it with the URL that plays it. Exit codes: 0
 * done, 2 usage.
 */
import { ConfigError, type ConfigSpec, describeConfig, loadConfig } from '../common/config.ts';
import { NAME_RE } from '../common/names.ts';
import { playbackKeysOf, playbackKeysProblems, TOKEN_TTL_SECONDS } from '../common/playback-gate.ts';
import { mintToken } from '../common/playback-token.ts';
import type { PlaybackTokenData } from '../common/types.ts';
import { CliError, readSecret, splitArgs } from './streams.ts';

const TOKEN_CONFIG = {
  ttl: {
    type: 'string',
    default: '10m',
    doc: 'lifetime: seconds, or a number with s, m, h or d (10 s .. 7 d)',
  },
  network: {
    type: 'string',
    default: '',
    doc: "client network the token is bound to (203.0.113.0/24); '' = any",
  },
  url: {
    type: 'url',
    default: 'http://127.0.0.1:8080',
    doc: 'coordinator base URL the printed playback URL starts with',
  },
  clusterSecretFile: {
    type: 'string',
    default: '',
    doc: 'file holding the cluster secret (else RINGCAST_CLUSTER_SECRET); signs when no playback keys are given',
  },
  playbackKeys: {
    type: 'list',
    default: [] as string[],
    doc: "the cluster's playback keys, kid=secret,... (the first signs); '' = the one derived from the cluster secret",
  },
  json: { type: 'bool', default: false, doc: 'print { token, url, expiresAt } as JSON' },
} satisfies ConfigSpec;

const USAGE = `usage: ringcast token <stream> [options]

Prints a playback token for a private stream and the URL a player opens with it. The key comes from
--playback-keys (RINGCAST_PLAYBACK_KEYS; keep it in the environment) or, without keys, from the cluster
secret (RINGCAST_CLUSTER_SECRET or --cluster-secret-file FILE), never from the command line.

options:
${describeConfig(TOKEN_CONFIG)}`;

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `30s`, `10m`, `2h`, `7d` → seconds within the allowed lifetimes; else a usage error. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text);
  const seconds = m ? Number(m[1]) * UNITS[m[2]!]! : Number.NaN;
  if (!(seconds >= TOKEN_TTL_SECONDS.min && seconds <= TOKEN_TTL_SECONDS.max))
    throw new CliError(`--ttl '${text}' must be 10s .. 7d (a number with s, m, h or d)`, 2);
  return seconds;
}

function load(flags: string[]) {
  try {
    return loadConfig(TOKEN_CONFIG, flags);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

/** The token and its URL for this command line, and whether to print them as JSON. */
export function tokenFor(argv: string[], nowMs = Date.now()): { data: PlaybackTokenData; json: boolean } {
  const { words, flags } = splitArgs(argv);
  if (flags.some((f) => f === '--cluster-secret' || f.startsWith('--cluster-secret=')))
    throw new CliError('the cluster secret is not taken on the command line; set RINGCAST_CLUSTER_SECRET', 2);
  const [stream, ...extra] = words;
  if (!stream) throw new CliError("'token' needs a stream id", 2);
  if (!NAME_RE.test(stream)) throw new CliError(`stream id '${stream}' must match ${NAME_RE.source}`, 2);
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  const config = load(flags);
  const ttl = parseTtl(config.ttl);
  const problems = playbackKeysProblems(config.playbackKeys);
  if (problems.length > 0) throw new CliError(problems.join('; '), 2);
  const clusterSecret = config.playbackKeys.length > 0 ? '' : readSecret(config.clusterSecretFile);
  if (config.playbackKeys.length === 0 && !clusterSecret)
    throw new CliError(
      'no key: set RINGCAST_PLAYBACK_KEYS or RINGCAST_CLUSTER_SECRET (or --cluster-secret-file)',
      2,
    );
  const expiresAt = Math.floor(nowMs / 1000) + ttl;
  const bind = config.network ? { network: config.network } : undefined;
  let token: string;
  try {
    token = mintToken(playbackKeysOf({ playbackKeys: config.playbackKeys, clusterSecret }), {
      stream,
      expiresAt,
      bind,
    });
  } catch {
    throw new CliError(`--network '${config.network}' is not a network such as 203.0.113.0/24`, 2);
  }
  const url = `${config.url}/t/${token}/live/${stream}/master.m3u8`;
  return { data: { token, url, expiresAt: new Date(expiresAt * 1000).toISOString() }, json: config.json };
}

/** The demo player page for a playback URL (`/player/?stream=…&token=…`). */
function playerUrl(url: string): string {
  const m = /^(.*)\/t\/([^/]+)\/live\/([^/]+)\/master\.m3u8$/.exec(url);
  return m ? `${m[1]}/player/?stream=${m[3]}&token=${m[2]}` : '';
}

/** Entry point of `ringcast token`; sets process.exitCode rather than exiting. */
export async function runToken(argv: string[]): Promise<void> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    const { data, json } = tokenFor(argv);
    process.stdout.write(
      json
        ? `${JSON.stringify(data, null, 2)}\n`
        : `Token:   ${data.token}\nURL:     ${data.url}\nPlayer:  ${playerUrl(data.url)}\nExpires: ${data.expiresAt}\n`,
    );
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`ringcast token: ${err.message}\n('ringcast token --help' lists the options)\n`);
    process.exitCode = err.exitCode;
  }
}
