import type { ClusterEventMap, ClusterEventType, RelayInfo, StreamInfo } from '../common/types.ts';

/** A relay as stored: its public info plus when its last heartbeat arrived (epoch ms). */
export interface StoredRelay extends RelayInfo {
  lastSeenMs: number;
}

/** One event between coordinators; `source` names the coordinator that made the change. */
export type ClusterEvent = {
  [T in ClusterEventType]: { type: T; data: ClusterEventMap[T]; source: string };
}[ClusterEventType];

export type ClusterEventHandler = (event: ClusterEvent) => void;

/**
 * A stream registration (`POST /api/v1/streams`): the public id and the SHA-256 of its current stream
 * key. The key itself is shown once to the caller that made it and never stored.
 */
export interface StreamRegistration {
  id: string;
  createdAtMs: number;
  /** Hex SHA-256 of the current key; null while the key is revoked. */
  keyDigest: string | null;
  /** When the key was last made, rotated or revoked. */
  keyChangedAtMs: number;
  /** Playback needs a token (`ringcast streams add NAME --private`). */
  private?: boolean;
}

/** Every registration plus the registrations version, raised by each change. */
export interface RegistrationSet {
  version: number;
  registrations: StreamRegistration[];
}

/**
 * Where a coordinator keeps cluster state, so that several coordinators can share it (Redis) or one
 * can run with nothing installed (memory). Writes of a relay happen before the version bump that
 * announces them, so the highest version seen always describes the newest member list.
 */
export interface ClusterStore {
  /** Connects; resolves even when the backend is down (the store then reports unavailable). */
  start(): Promise<void>;
  close(): Promise<void>;
  /** False while the backend cannot be reached; the coordinator then serves its last known state. */
  readonly available: boolean;
  /** Called whenever `available` changes. */
  onAvailabilityChange(handler: (available: boolean) => void): void;

  listRelays(): Promise<StoredRelay[]>;
  getRelay(id: string): Promise<StoredRelay | undefined>;
  putRelay(relay: StoredRelay): Promise<void>;
  /** Updates load and lastSeen of a known relay; false when the relay is not stored. */
  touchRelay(id: string, load: RelayInfo['load'], nowMs: number): Promise<boolean>;
  /** Removes a relay; true only for the caller that actually removed it. */
  removeRelay(id: string): Promise<boolean>;

  ringVersion(): Promise<number>;
  /** Increments the ring version and returns the new one. */
  bumpRingVersion(): Promise<number>;

  listStreams(): Promise<StreamInfo[]>;
  getStream(id: string): Promise<StreamInfo | undefined>;
  putStream(stream: StreamInfo): Promise<void>;

  listRegistrations(): Promise<RegistrationSet>;
  registrationsVersion(): Promise<number>;
  getRegistration(id: string): Promise<StreamRegistration | undefined>;
  /** The registration whose current key has this digest (the caller still compares the digests). */
  findRegistrationByDigest(keyDigest: string): Promise<StreamRegistration | undefined>;
  /** Adds a registration; false when the id is already registered. */
  createRegistration(reg: StreamRegistration): Promise<boolean>;
  /** Replaces the key digest (null revokes); the updated registration, or undefined when not registered. */
  setRegistrationKey(
    id: string,
    keyDigest: string | null,
    nowMs: number,
  ): Promise<StreamRegistration | undefined>;
  /** Removes a registration; false when it was not registered. */
  removeRegistration(id: string): Promise<boolean>;

  /** Sends an event to every coordinator on this store, this one included. */
  publish(event: ClusterEvent): Promise<void>;
  /** Returns a function that unsubscribes. */
  subscribe(handler: ClusterEventHandler): () => void;
}
