import { type ErrorCode, RingcastError } from './errors.ts';
import type { Logger } from './log.ts';
import {
  checkClaims,
  checkSignature,
  defaultPlaybackKey,
  type PlaybackKey,
  parsePlaybackKeys,
  type TokenClaims,
  type TokenRefusal,
} from './playback-token.ts';

/** Shortest and longest playback token lifetimes the CLI and `POST /api/v1/tokens` make. */
export const TOKEN_TTL_SECONDS = { min: 10, max: 7 * 24 * 3600 } as const;

/** The error code each refusal is answered with (403 each; docs/errors.md). */
export const REFUSAL_CODES: Record<TokenRefusal, ErrorCode> = {
  missing: 'RC_TOKEN_MISSING',
  malformed: 'RC_TOKEN_INVALID',
  unknown_key: 'RC_TOKEN_INVALID',
  forged: 'RC_TOKEN_INVALID',
  expired: 'RC_TOKEN_EXPIRED',
  wrong_network: 'RC_TOKEN_WRONG_CLIENT',
  wrong_session: 'RC_TOKEN_WRONG_CLIENT',
};

/**
 * The playback keys a part checks with: the `playbackKeys` config list (`kid=secret`, the first signs),
 * or the key derived from the cluster secret when the list is empty. The config loaders have already
 * refused a bad list, so problems here are not expected.
 */
export function playbackKeysOf(config: {
  playbackKeys: readonly string[];
  clusterSecret: string;
}): PlaybackKey[] {
  if (config.playbackKeys.length === 0) return [defaultPlaybackKey(config.clusterSecret)];
  const { keys, problems } = parsePlaybackKeys(config.playbackKeys);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return keys;
}

/** Config check for a `playbackKeys` list: one message per bad item, never a secret. */
export function playbackKeysProblems(items: readonly string[]): string[] {
  return parsePlaybackKeys(items).problems.map((p) => `'playbackKeys': ${p}`);
}

/** What one request brings to the gate. */
export interface GateRequest {
  token: string | undefined;
  stream: string;
  /** The client's address (binding by network). */
  address: string;
  session?: string;
}

const VERDICTS_MAX = 8192;
const LOGGED_MAX = 1024;

/**
 * The token check of a private stream's request, shared by relays and the coordinator. A token whose
 * signature was checked once is kept (token and stream → its claims) until it expires, so a player's
 * many requests cost a Map lookup, not an HMAC each. Refusals are counted by reason and logged once per
 * reason and address (bounded); the token itself is never logged or counted.
 */
export class PlaybackGate {
  readonly refused: Record<TokenRefusal, number> = {
    missing: 0,
    malformed: 0,
    unknown_key: 0,
    forged: 0,
    expired: 0,
    wrong_network: 0,
    wrong_session: 0,
  };
  private readonly verdicts = new Map<string, TokenClaims>();
  private readonly logged = new Set<string>();

  constructor(
    private readonly keys: readonly PlaybackKey[],
    private readonly log: Logger,
  ) {}

  /** Undefined when the request may go on; else the 403 to answer with. */
  check(req: GateRequest, nowMs = Date.now()): RingcastError | undefined {
    const refusal = this.refusal(req, Math.floor(nowMs / 1000));
    if (refusal === undefined) return undefined;
    this.refused[refusal]++;
    const logKey = `${refusal} ${req.address}`;
    if (!this.logged.has(logKey)) {
      if (this.logged.size >= LOGGED_MAX) this.logged.clear();
      this.logged.add(logKey);
      this.log.info({ reason: refusal, address: req.address, stream: req.stream }, 'playback token refused');
    }
    return new RingcastError(REFUSAL_CODES[refusal]);
  }

  private refusal(req: GateRequest, now: number): TokenRefusal | undefined {
    const { token, stream } = req;
    if (token === undefined || token === '') return 'missing';
    const key = `${stream}\n${token}`;
    let claims = this.verdicts.get(key);
    if (!claims) {
      const signed = checkSignature(this.keys, token, stream);
      if (typeof signed === 'string') return signed;
      claims = signed;
      // Only good signatures are kept: a stranger's stream of forgeries cannot fill the map with them.
      if (claims.expiresAt > now) {
        if (this.verdicts.size >= VERDICTS_MAX) this.verdicts.clear();
        this.verdicts.set(key, claims);
      }
    }
    const refusal = checkClaims(claims, { stream, now, address: req.address, session: req.session });
    if (refusal === 'expired') this.verdicts.delete(key);
    return refusal;
  }
}
