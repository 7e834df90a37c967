import type HLS from 'hls-parser';

/** The parts of an HLS content steering manifest a player uses. */
export interface SteeringManifest {
  VERSION: number;
  TTL: number;
  'RELOAD-URI'?: string;
  'PATHWAY-PRIORITY': string[];
  'PATHWAY-CLONES'?: {
    'BASE-ID': string;
    ID: string;
    'URI-REPLACEMENT': { HOST?: string; 'PER-VARIANT-URIS'?: Record<string, string> };
  }[];
}

/** Follows content steering like a player: pathway order from the manifest, variant URI per pathway. */
export class SteeringFollower {
  private manifest: SteeringManifest | undefined;
  private nextReloadAt = 0;
  private reloadUri: string;
  private penalised = new Map<string, number>();

  constructor(
    private readonly master: HLS.types.MasterPlaylist,
    private readonly masterUrl: string,
  ) {
    this.reloadUri = new URL(master.contentSteering!.serverUri, masterUrl).toString();
  }

  /** Reloads the manifest when its TTL has passed. */
  async refresh(): Promise<void> {
    if (Date.now() < this.nextReloadAt) return;
    const res = await fetch(this.reloadUri, { signal: AbortSignal.timeout(4000) });
    if (!res.ok) throw new Error(`steering ${this.reloadUri}: ${res.status}`);
    this.manifest = (await res.json()) as SteeringManifest;
    if (this.manifest['RELOAD-URI'])
      this.reloadUri = new URL(this.manifest['RELOAD-URI'], this.reloadUri).toString();
    this.nextReloadAt = Date.now() + this.manifest.TTL * 1000;
  }

  /** A pathway that failed is skipped for a while, as hls.js does. */
  penalise(pathway: string): void {
    this.penalised.set(pathway, Date.now() + 10_000);
    this.nextReloadAt = 0;
  }

  /** The media playlist URL of `variant` on the best pathway, and that pathway's id. */
  variantUri(variant: HLS.types.Variant): { uri: string; pathway: string } {
    const now = Date.now();
    const base = this.master.contentSteering!.pathwayId ?? variant.pathwayId;
    const order = this.manifest?.['PATHWAY-PRIORITY'] ?? [base];
    const pathway = order.find((p) => (this.penalised.get(p) ?? 0) < now) ?? order[0]!;
    const clone = this.manifest?.['PATHWAY-CLONES']?.find((c) => c.ID === pathway);
    const perVariant = clone?.['URI-REPLACEMENT']['PER-VARIANT-URIS']?.[variant.stableVariantId];
    if (perVariant) return { uri: perVariant, pathway };
    return { uri: new URL(variant.uri, this.masterUrl).toString(), pathway: base };
  }
}
