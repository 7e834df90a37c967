/** What a relay reads from a `/live/` request's query and headers: blocking-reload keys, sessions. */
import { RingcastError } from '../common/errors.ts';
import { SESSION_CHARS } from './viewer-tracker.ts';

/** A blocking reload's canonical query (`?_HLS_msn=7&_HLS_part=1`, or '') and its msn. */
export interface BlockingQuery {
  query: string;
  msn: number | undefined;
}
export const NO_QUERY: BlockingQuery = { query: '', msn: undefined };

/**
 * The LL-HLS blocking parameters in a fixed order, each canonicalised by value (`_HLS_msn=01` is
 * `_HLS_msn=1`), so equal requests share one cache key; nothing else is forwarded (unknown `_HLS_`
 * parameters included).
 */
export function blockingQuery(params: URLSearchParams): BlockingQuery {
  const out: string[] = [];
  let msn: number | undefined;
  for (const [name, re] of [
    ['_HLS_msn', /^\d{1,10}$/],
    ['_HLS_part', /^\d{1,6}$/],
    ['_HLS_skip', /^(YES|v2)$/],
  ] as const) {
    const v = params.get(name);
    if (v === null) continue;
    if (!re.test(v)) throw new RingcastError('RC_BAD_REQUEST', `${name} is not valid`);
    const canonical = name === '_HLS_skip' ? v : String(Number(v));
    if (name === '_HLS_msn') msn = Number(v);
    out.push(`${name}=${canonical}`);
  }
  return out.length > 0 ? { query: `?${out.join('&')}`, msn } : NO_QUERY;
}

/** The `session` query parameter naming a viewer session, if any (a bounded copy). */
export function sessionParam(query: string): string | undefined {
  if (!query.includes('session=')) return undefined;
  return new URLSearchParams(query).get('session')?.slice(0, SESSION_CHARS) || undefined;
}

/** A header's value when sent once (Node joins or arrays repeated ones: those are not ours). */
export function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
