/**
 * `ringcast streams add|list|rotate|revoke|remove`: manages stream registrations and keys on a
 * coordinator. Exit codes: 0 done, 1 the coordinator refused or could not be reached, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigSpec, describeConfig, loadConfig } from '../common/config.ts';
import { authHeaders } from '../common/http.ts';
import { NAME_RE } from '../common/names.ts';
import type { StreamKeyData, StreamRegistrationData } from '../common/types.ts';

const STREAMS_CONFIG = {
  coordinatorUrl: { type: 'url', default: 'http://127.0.0.1:8080', doc: 'coordinator to manage' },
  clusterSecretFile: {
    type: 'string',
    default: '',
    doc: 'file holding the cluster secret (else RINGCAST_CLUSTER_SECRET)',
  },
  rtmpUrl: {
    type: 'string',
    default: '',
    doc: 'OBS "Server" to print (empty: rtmp://<coordinator host>:1935/live)',
    check: (v: unknown) =>
      v === '' || /^rtmps?:\/\/\S+$/.test(String(v)) ? undefined : 'must be empty or an rtmp:// URL',
  },
  json: { type: 'bool', default: false, doc: 'print the coordinator answer as JSON' },
  private: {
    type: 'bool',
    default: false,
    doc: "add: playback needs a token ('ringcast token <id>' mints one)",
  },
} satisfies ConfigSpec;

const USAGE = `usage: ringcast streams <command> [options]

commands:
  add <id>      register a stream; prints its key and the OBS settings (--private: playback
                needs a token, minted by 'ringcast token <id>')
  list          registered streams (never their keys)
  rotate <id>   new key; the old one is refused from now on
  revoke <id>   no key publishes the stream until it is rotated
  remove <id>   forget the stream and its key

The cluster secret comes from RINGCAST_CLUSTER_SECRET or --cluster-secret-file FILE, never from
the command line. Exit codes: 0 done, 1 refused or coordinator unreachable, 2 usage error.

options:
${describeConfig(STREAMS_CONFIG)}`;

const COMMANDS = ['add', 'list', 'rotate', 'revoke', 'remove'] as const;
type Command = (typeof COMMANDS)[number];

/** A failure to report: message for stderr and the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

interface Invocation {
  command: Command;
  id: string;
  coordinatorUrl: string;
  secret: string;
  rtmpUrl: string;
  json: boolean;
  private: boolean;
}

const BOOL_FLAGS = ['--json', '--private'];

/** Positional words apart from flags and their values (a bool flag takes only `true` or `false`). */
export function splitArgs(argv: string[]): { words: string[]; flags: string[] } {
  const words: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) words.push(arg);
    else {
      flags.push(arg);
      const next = argv[i + 1];
      const takesValue =
        !arg.includes('=') &&
        next !== undefined &&
        !next.startsWith('--') &&
        (!BOOL_FLAGS.includes(arg) || next === 'true' || next === 'false');
      if (takesValue) flags.push(argv[++i]!);
    }
  }
  return { words, flags };
}

/** The cluster secret from `--cluster-secret-file` or RINGCAST_CLUSTER_SECRET; never a flag. */
export function readSecret(file: string): string {
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new CliError(`cannot read --cluster-secret-file ${file}: ${(err as Error).message}`, 2);
    }
  }
  return (process.env.RINGCAST_CLUSTER_SECRET ?? '').trim();
}

function parseInvocation(argv: string[]): Invocation {
  const { words, flags } = splitArgs(argv);
  if (flags.some((f) => f === '--cluster-secret' || f.startsWith('--cluster-secret=')))
    throw new CliError(
      'the cluster secret is not taken on the command line (it would show in ps and shell history); ' +
        'set RINGCAST_CLUSTER_SECRET or use --cluster-secret-file FILE',
      2,
    );
  const [command, id = '', ...extra] = words;
  if (!COMMANDS.includes(command as Command)) throw new CliError(`unknown command '${command ?? ''}'`, 2);
  const needsId = command !== 'list';
  if (needsId && !id) throw new CliError(`'streams ${command}' needs a stream id`, 2);
  if (needsId && !NAME_RE.test(id)) throw new CliError(`stream id '${id}' must match ${NAME_RE.source}`, 2);
  if (extra.length > 0 || (!needsId && id)) throw new CliError(`unexpected argument '${extra[0] ?? id}'`, 2);
  let config: ReturnType<typeof loadConfig<typeof STREAMS_CONFIG>>;
  try {
    config = loadConfig(STREAMS_CONFIG, flags);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  const secret = readSecret(config.clusterSecretFile);
  if (!secret)
    throw new CliError('no cluster secret: set RINGCAST_CLUSTER_SECRET or use --cluster-secret-file FILE', 2);
  const host = new URL(config.coordinatorUrl).hostname;
  const rtmpUrl = config.rtmpUrl || `rtmp://${host}:1935/live`;
  return {
    command: command as Command,
    id,
    coordinatorUrl: config.coordinatorUrl,
    secret,
    rtmpUrl,
    json: config.json,
    private: config.private,
  };
}

/** One call to the coordinator; a refusal becomes a CliError whose message says what to do. */
async function request<T>(inv: Invocation, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${inv.coordinatorUrl}${path}`, {
      method,
      headers: authHeaders(inv.secret),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why =
      e.name === 'TimeoutError' ? 'no answer within 10 s' : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new CliError(`cannot reach the coordinator at ${inv.coordinatorUrl} (${why})`, 1);
  }
  const text = await res.text();
  let parsed: { error?: { code?: string; message?: string } } & Record<string, unknown> = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {}
  if (res.ok) return parsed as T;
  throw new CliError(refusal(inv, res.status, parsed.error?.code, parsed.error?.message), 1);
}

function refusal(inv: Invocation, status: number, code = '', message = ''): string {
  if (status === 401)
    return `the coordinator at ${inv.coordinatorUrl} refused the cluster secret (401 ${code}); check RINGCAST_CLUSTER_SECRET or --cluster-secret-file`;
  if (code === 'RC_STREAM_NOT_FOUND')
    return `stream '${inv.id}' is not registered ('ringcast streams list' shows the registered ones)`;
  if (code === 'RC_STREAM_EXISTS')
    return `stream '${inv.id}' is already registered; 'ringcast streams rotate ${inv.id}' gives it a new key`;
  if (code === 'RC_STORE_UNAVAILABLE')
    return "the coordinator's state store (Redis) is unavailable; nothing was changed, try again when it is back";
  if (status === 404 || status === 405)
    return `${inv.coordinatorUrl} does not serve the streams API (is it a Ringcast coordinator of this version?)`;
  return `the coordinator answered ${status} ${code}: ${message || 'no message'}`;
}

function printKey(inv: Invocation, data: StreamKeyData, headline: string): void {
  const lines = [
    headline,
    '',
    `  Stream key: ${data.key}`,
    '',
    'The key is shown only now: the coordinator keeps just a digest of it.',
    `'ringcast streams rotate ${data.id}' makes a new one; 'ringcast streams revoke ${data.id}' disables it.`,
    '',
    'OBS: Settings > Stream',
    '  Service:    Custom...',
    `  Server:     ${inv.rtmpUrl}`,
    `  Stream Key: ${data.key}`,
    '',
    inv.private
      ? `Viewers need a playback token: 'ringcast token ${data.id} --ttl 10m' prints one with its URL.`
      : `Viewers: ${inv.coordinatorUrl}/live/${data.id}/master.m3u8 (player: ${inv.coordinatorUrl}/player/?stream=${data.id})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printList(streams: StreamRegistrationData[]): void {
  if (streams.length === 0) {
    process.stdout.write("No streams registered; 'ringcast streams add <id>' registers one.\n");
    return;
  }
  const rows = [
    ['ID', 'KEY', 'STATE', 'PLAYBACK', 'CREATED', 'KEY CHANGED'],
    ...streams.map((s) => [
      s.id,
      s.keyState,
      s.state ?? '-',
      s.private ? 'token' : 'public',
      s.createdAt,
      s.keyChangedAt,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

async function run(inv: Invocation): Promise<void> {
  const path = `/api/v1/streams/${inv.id}`;
  const out = (data: unknown, text: () => void) =>
    inv.json ? process.stdout.write(`${JSON.stringify(data, null, 2)}\n`) : text();
  switch (inv.command) {
    case 'add': {
      const body = inv.private ? { id: inv.id, private: true } : { id: inv.id };
      const data = await request<StreamKeyData>(inv, 'POST', '/api/v1/streams', body);
      return void out(data, () => printKey(inv, data, `Registered stream '${inv.id}'.`));
    }
    case 'rotate': {
      const data = await request<StreamKeyData>(inv, 'POST', `${path}/key`);
      const headline = `New key for stream '${inv.id}'; the old key is refused from now on.`;
      return void out(data, () => printKey(inv, data, headline));
    }
    case 'list': {
      const data = await request<{ streams: StreamRegistrationData[] }>(inv, 'GET', '/api/v1/streams');
      return void out(data, () => printList(data.streams));
    }
    case 'revoke': {
      const data = await request(inv, 'DELETE', `${path}/key`);
      const text = `Revoked the key of stream '${inv.id}': no key publishes it until 'ringcast streams rotate ${inv.id}'.\n`;
      return void out(data, () => process.stdout.write(text));
    }
    case 'remove': {
      const data = await request(inv, 'DELETE', path);
      return void out(data, () => process.stdout.write(`Removed stream '${inv.id}' and its key.\n`));
    }
  }
}

/** Entry point of `ringcast streams`; sets process.exitCode rather than exiting, so output is flushed. */
export async function runStreams(argv: string[]): Promise<void> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    await run(parseInvocation(argv));
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    process.stderr.write(`ringcast streams: ${err.message}\n`);
    if (err.exitCode === 2)
      process.stderr.write("('ringcast streams --help' lists the commands and options)\n");
    process.exitCode = err.exitCode;
  }
}
