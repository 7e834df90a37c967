import { createHmac, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { plainAddress } from './address-key.ts';

/**
 * Signed playback (issue 16): a token says "this stream, until this second, signed with key `kid`",
 * optionally bound to one client network or one session. Relays and the coordinator check it locally,
 * with no call per request.
 *
 * Form: `<kid>.<expiry, unix seconds>.<binding>.<mac>`, every character path-safe, so the token can ride
 * as a path prefix (`/t/<token>/live/...`) that relative URIs in playlists carry with no rewriting.
 * - binding: `-` (none), or base64url of `n:<network>/<bits>` or `s:<session>`;
 * - mac: HMAC-SHA256(key, label, stream, expiry, kid, binding), base64url, first 128 bits.
 * Keys rotate by key id: the first key signs, every listed key verifies until it is removed.
 */

export interface PlaybackKey {
  kid: string;
  secret: string;
}

export type TokenBinding = { network: string } | { session: string } | undefined;

export interface MintRequest {
  stream: string;
  /** Unix seconds after which the token is refused. */
  expiresAt: number;
  bind?: TokenBinding;
}

/** Why a token was refused; the HTTP layer maps each to a 403 with an error code. */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'unknown_key'
  | 'forged'
  | 'expired'
  | 'wrong_network'
  | 'wrong_session';

export interface TokenContext {
  stream: string;
  /** Unix seconds. */
  now: number;
  /** The client's address (after trusted-proxy handling). */
  address: string;
  /** The session the request names, if any. */
  session?: string;
}

const LABEL = 'ringcast-play-v1';
const KID_RE = /^[a-z0-9]{1,16}$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const MAC_CHARS = 22; // 128 bits of base64url
/** Tokens longer than this are refused before any parsing (a path has to stay short). */
export const TOKEN_MAX_CHARS = 256;

/** The key derived from the cluster secret, used when an operator lists none. */
export function defaultPlaybackKey(clusterSecret: string): PlaybackKey {
  return {
    kid: 'k0',
    secret: createHmac('sha256', clusterSecret).update('ringcast-playback-key-v1').digest('hex'),
  };
}

/**
 * `kid=secret` items (the config list `playbackKeys`); the first one signs. Returns the keys, or the
 * problems (each names the item, never the secret).
 */
export function parsePlaybackKeys(items: readonly string[]): { keys: PlaybackKey[]; problems: string[] } {
  const keys: PlaybackKey[] = [];
  const problems: string[] = [];
  for (const [i, item] of items.entries()) {
    const eq = item.indexOf('=');
    const kid = eq < 0 ? item : item.slice(0, eq);
    const secret = eq < 0 ? '' : item.slice(eq + 1);
    if (!KID_RE.test(kid)) problems.push(`playback key ${i + 1}: key id must match ${KID_RE.source}`);
    else if (secret.length < 16) problems.push(`playback key '${kid}': secret must be 16 characters or more`);
    else if (keys.some((k) => k.kid === kid)) problems.push(`playback key '${kid}' is listed twice`);
    else keys.push({ kid, secret });
  }
  return { keys, problems };
}

/** A token for `req`, signed with the first key. */
export function mintToken(keys: readonly PlaybackKey[], req: MintRequest): string {
  const key = keys[0];
  if (!key) throw new Error('no playback key to sign with');
  if (!Number.isSafeInteger(req.expiresAt) || req.expiresAt < 0)
    throw new Error('expiresAt must be unix seconds');
  const binding = encodeBinding(req.bind);
  const exp = String(req.expiresAt);
  return `${key.kid}.${exp}.${binding}.${mac(key.secret, req.stream, exp, key.kid, binding)}`;
}

/**
 * Checks a token for one request. Cheap enough per request (one HMAC); callers that see the same
 * token often may keep a verdict by token and stream until its expiry (TokenCache).
 */
export function verifyToken(
  keys: readonly PlaybackKey[],
  token: string | undefined,
  ctx: TokenContext,
): TokenRefusal | undefined {
  const signed = checkSignature(keys, token, ctx.stream);
  if (typeof signed === 'string') return signed;
  return checkClaims(signed, ctx);
}

/** What a correctly signed token claims. */
export interface TokenClaims {
  expiresAt: number;
  bind: TokenBinding;
}

/** The signature half of verifyToken: the claims when `token` was signed for `stream`, else why not. */
export function checkSignature(
  keys: readonly PlaybackKey[],
  token: string | undefined,
  stream: string,
): TokenClaims | TokenRefusal {
  if (token === undefined || token === '') return 'missing';
  if (token.length > TOKEN_MAX_CHARS) return 'malformed';
  const parts = token.split('.');
  if (parts.length !== 4) return 'malformed';
  const [kid, exp, binding, given] = parts as [string, string, string, string];
  if (!/^\d{1,12}$/.test(exp) || given.length !== MAC_CHARS || !B64URL_RE.test(given)) return 'malformed';
  if (binding !== '-' && !B64URL_RE.test(binding)) return 'malformed';
  const key = keys.find((k) => k.kid === kid);
  if (!key) return 'unknown_key';
  const want = Buffer.from(mac(key.secret, stream, exp, kid, binding));
  if (!timingSafeEqual(want, Buffer.from(given))) return 'forged';
  const bind = decodeBinding(binding);
  if (bind === 'malformed') return 'malformed';
  return { expiresAt: Number(exp), bind };
}

/** The claims half of verifyToken: expiry and binding against this request. */
export function checkClaims(claims: TokenClaims, ctx: TokenContext): TokenRefusal | undefined {
  if (ctx.now >= claims.expiresAt) return 'expired';
  const bind = claims.bind;
  if (bind && 'network' in bind && !inNetwork(ctx.address, bind.network)) return 'wrong_network';
  if (bind && 'session' in bind && ctx.session !== bind.session) return 'wrong_session';
  return undefined;
}

function mac(secret: string, stream: string, exp: string, kid: string, binding: string): string {
  return createHmac('sha256', secret)
    .update(`${LABEL}\n${stream}\n${exp}\n${kid}\n${binding}`)
    .digest('base64url')
    .slice(0, MAC_CHARS);
}

function encodeBinding(bind: TokenBinding): string {
  if (!bind) return '-';
  if ('network' in bind) {
    if (!parseNetwork(bind.network)) throw new Error(`not a network: ${bind.network}`);
    return Buffer.from(`n:${bind.network}`).toString('base64url');
  }
  if (bind.session === '' || bind.session.length > 64) throw new Error('session must be 1 to 64 characters');
  return Buffer.from(`s:${bind.session}`).toString('base64url');
}

function decodeBinding(binding: string): TokenBinding | 'malformed' {
  if (binding === '-') return undefined;
  const text = Buffer.from(binding, 'base64url').toString('utf8');
  if (text.startsWith('n:') && parseNetwork(text.slice(2))) return { network: text.slice(2) };
  if (text.startsWith('s:') && text.length > 2) return { session: text.slice(2) };
  return 'malformed';
}

/** `203.0.113.0/24` or `2001:db8::/48` → its parts; undefined when it is not one. */
function parseNetwork(
  network: string,
): { address: string; bits: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = network.lastIndexOf('/');
  if (slash < 0) return undefined;
  const address = network.slice(0, slash);
  const bitsText = network.slice(slash + 1);
  const version = isIP(address);
  if (version === 0 || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > (version === 4 ? 32 : 128)) return undefined;
  return { address, bits, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function inNetwork(address: string, network: string): boolean {
  const net = parseNetwork(network);
  const plain = plainAddress(address);
  const version = isIP(plain);
  if (!net || version === 0) return false;
  const list = new BlockList();
  list.addSubnet(net.address, net.bits, net.family);
  return list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
}
