/**
 * What the ingest and one RTMP connection (nms-adapter.ts) say to each other: verdicts, hooks, reasons,
 * and a publisher's media as it announced it. Nothing here touches node-media-server.
 */
import type { RtmpConnection } from './nms-adapter.ts';

/** Why an RTMP connection was closed for what it sent (the `reason` label of rtmp_rejected_total). */
export type RtmpRejectReason =
  | 'malformed'
  | 'message_too_large'
  | 'bad_command'
  | 'backoff'
  | 'idle'
  | 'play_refused'
  | 'too_many_connections'
  | 'not_reading'
  /** RTMPS only: the TLS handshake failed (not TLS, no common cipher, or too slow). */
  | 'tls_handshake';

/** What to do with a publish request. */
export type PublishVerdict =
  /** `path`: the name NMS files the publisher under (`/live/<path>`), never the key itself. */
  | { admit: true; path: string }
  | { admit: false; reason: string; status: 'NetStream.Publish.Unauthorized' | 'NetStream.Publish.BadName' };

/** The ingest's side of one connection: decisions and notices. */
export interface RtmpConnectionHooks {
  /** The peer asks to publish `name` under `app`; nothing more of it is handed on until the verdict. */
  onPublishRequest(conn: RtmpConnection, app: string, name: string): Promise<PublishVerdict>;
  /** The peer asks to play `name`; false closes the connection. */
  onPlayRequest(conn: RtmpConnection, app: string, name: string): boolean;
  /** The connection is being closed for what it sent. */
  onRejected(conn: RtmpConnection, reason: RtmpRejectReason, detail: string): void;
}

/** FLV codec ids (onMetaData videocodecid / audiocodecid). */
const FLV_VIDEO: Record<number, string> = {
  2: 'flv1',
  3: 'screen',
  4: 'vp6',
  5: 'vp6a',
  7: 'h264',
  12: 'hevc',
};
const FLV_AUDIO: Record<number, string> = {
  1: 'adpcm',
  2: 'mp3',
  7: 'g711a',
  8: 'g711u',
  10: 'aac',
  11: 'speex',
};

/** What a publisher said about its media in onMetaData. */
export interface RtmpSourceMeta {
  width: number;
  height: number;
  fps: number;
  videoCodec: string;
  audioCodec: string | undefined;
}

/** onMetaData as a session holds it: sizes, frame rate, FLV codec ids (0 when not said). */
export interface FlvMetaFields {
  videoWidth: number;
  videoHeight: number;
  videoFramerate: number;
  videoCodec: number;
  audioCodec: number;
}

/** The publisher's media from its onMetaData; undefined until it gave a size. Unknown codecs read `id N`. */
export function sourceMetaOf(s: FlvMetaFields): RtmpSourceMeta | undefined {
  if (!(s.videoWidth > 0 && s.videoHeight > 0)) return undefined;
  return {
    width: s.videoWidth,
    height: s.videoHeight,
    fps: Math.round(s.videoFramerate) || 0,
    videoCodec: FLV_VIDEO[s.videoCodec] ?? `id ${s.videoCodec}`,
    audioCodec: s.audioCodec ? (FLV_AUDIO[s.audioCodec] ?? `id ${s.audioCodec}`) : undefined,
  };
}
