import { authHeaders } from '../common/http.ts';
import { NAME_RE } from '../common/names.ts';
import type { PublishAuthResult } from './rtmp-ingest.ts';

/** What a key check said: `unreachable` is no verdict (the coordinator could not be asked). */
export type KeyCheck = PublishAuthResult & { unreachable?: boolean };

/**
 * Asks the coordinator which stream a key feeds (`POST /api/v1/publish-auth`). 200 → its streamId;
 * 403 → refused; anything else (unreachable, 5xx, a bad answer) → refused too, marked `unreachable`,
 * since an origin that cannot check a key must not take media on it.
 */
export async function checkPublishKey(
  coordinatorUrl: string,
  secret: string,
  key: string,
  timeoutMs = 3000,
): Promise<KeyCheck> {
  let res: Response;
  try {
    res = await fetch(`${coordinatorUrl.replace(/\/+$/, '')}/api/v1/publish-auth`, {
      method: 'POST',
      headers: authHeaders(secret),
      body: JSON.stringify({ key }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return {
      refused: `coordinator unreachable for the key check (${(err as Error).message})`,
      unreachable: true,
    };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 403) return { refused: 'unknown or revoked stream key' };
  if (!res.ok)
    return { refused: `key check failed: coordinator answered HTTP ${res.status}`, unreachable: true };
  let streamId: unknown;
  try {
    streamId = (JSON.parse(text) as { streamId?: unknown }).streamId;
  } catch {
    streamId = undefined;
  }
  if (typeof streamId !== 'string' || !NAME_RE.test(streamId))
    return { refused: 'key check failed: the coordinator named no valid streamId', unreachable: true };
  return { streamId };
}
