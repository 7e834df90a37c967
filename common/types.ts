/** Wire types shared by origin, coordinator and relay (docs/api.md describes each call). */

export type RelayState = 'active' | 'draining';

/** A relay as the coordinator knows it. */
export interface RelayInfo {
  id: string;
  /** Base URL viewers and peers use, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Relative capacity; sets the relay's weight on the ring. */
  capacity: number;
  state: RelayState;
  /** Last reported load. */
  load?: RelayLoad;
}

export interface RelayLoad {
  /** Active viewer sessions seen in the last few seconds. */
  viewers: number;
  cacheBytes: number;
  bytesServedTotal: number;
}

/** The ring every node builds: members plus a version that changes with every membership change. */
export interface RingView {
  version: number;
  relays: RelayInfo[];
}

/** `POST /api/v1/relays` body. */
export interface RegisterRelayRequest {
  id: string;
  url: string;
  capacity?: number;
}

/** `POST /api/v1/relays/:id/heartbeat` body. */
export interface HeartbeatRequest {
  load: RelayLoad;
}

export interface RenditionInfo {
  name: string;
  /** Peak bits per second, for BANDWIDTH. */
  bandwidth: number;
  averageBandwidth?: number;
  width?: number;
  height?: number;
  codecs?: string;
  frameRate?: number;
}

export type StreamState = 'idle' | 'live' | 'ended' | 'error';

/** A stream as the coordinator knows it (`PUT /api/v1/streams/:streamId` from the origin). */
export interface StreamInfo {
  id: string;
  state: StreamState;
  originUrl: string;
  renditions: RenditionInfo[];
  /** Target duration of the media playlists, seconds. */
  targetDuration?: number;
  lowLatency?: boolean;
  /** Registered `--private`: every viewer request needs a playback token (docs/api.md, "Signed playback"). */
  private?: boolean;
  /** A human-readable reason when state is `error`. */
  reason?: string;
}

/** `POST /api/v1/streams/:streamId/segments` body: one finished segment. */
export interface SegmentAnnouncement {
  streamId: string;
  rendition: string;
  /** Media sequence number. */
  msn: number;
  /** File name in the rendition, e.g. `42.m4s`. */
  file: string;
  size: number;
  /** Hex SHA-256 of the segment bytes. */
  sha256: string;
  /** Seconds. */
  duration: number;
  /** Program date time of the segment's first sample, ISO 8601. */
  programDateTime: string;
}

/** Events on `GET /api/v1/events` (SSE: `event: <type>`, `data: <json>`). */
export interface ClusterEventMap {
  /** Sent first on every connection. */
  snapshot: { ring: RingView; streams: StreamInfo[] };
  ring: RingView;
  stream: StreamInfo;
  segment: SegmentAnnouncement;
}

export type ClusterEventType = keyof ClusterEventMap;

/** `POST /api/v1/streams` and `POST /api/v1/streams/:streamId/key`: the only answers that carry a key. */
export interface StreamKeyData {
  id: string;
  key: string;
}

/** One row of `GET /api/v1/streams`: never the key, never its digest. */
export interface StreamRegistrationData {
  id: string;
  /** ISO 8601. */
  createdAt: string;
  keyState: 'active' | 'revoked';
  /** ISO 8601: when the key was last made, rotated or revoked. */
  keyChangedAt: string;
  /** Playback needs a token (absent for public streams). */
  private?: true;
  /** What the origin last announced (`PUT /api/v1/streams/:streamId`); null before any announcement. */
  state: StreamState | null;
}

/** `POST /api/v1/tokens` answer: a playback token and the URL that plays with it. */
export interface PlaybackTokenData {
  token: string;
  /** The coordinator's master playlist with the token prefix. */
  url: string;
  /** ISO 8601. */
  expiresAt: string;
}

/** `GET /api/v1/cluster` body. */
export interface ClusterView {
  ring: RingView;
  streams: StreamInfo[];
}

/** Header a relay sets on requests to a peer: the request must not be forwarded to another peer. */
export const HOP_HEADER = 'x-ringcast-hop';
/** Header naming the relay that answered. */
export const RELAY_HEADER = 'x-ringcast-relay';
/** HIT | MISS | COALESCED. */
export const CACHE_HEADER = 'x-ringcast-cache';
/** On a relay's error responses: the error's code (peers act on `RC_ORIGIN_LINK_DOWN`). */
export const ERROR_HEADER = 'x-ringcast-error';
/** Header carrying the cluster secret on mutating calls: `Authorization: Bearer <secret>`. */
export const AUTH_HEADER = 'authorization';
