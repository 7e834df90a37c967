// Ringcast demo player: plays the coordinator's steering-enabled master playlist with hls.js and shows
// where every segment came from. `window.ringcastStats` exposes the same figures to tests.
(async () => {
  /** True when the stream's first variant playlist has LL-HLS parts (`#EXT-X-PART-INF`). */
  async function isLowLatency(master) {
    try {
      const text = await (await fetch(master)).text();
      const uri = text.split('\n').find((l) => l.trim() && !l.startsWith('#'));
      if (!uri) return false;
      return (await (await fetch(new URL(uri.trim(), master))).text()).includes('#EXT-X-PART-INF');
    } catch {
      return false;
    }
  }
  const params = new URLSearchParams(location.search);
  const stream = /^[A-Za-z0-9_-]{1,64}$/.test(params.get('stream') || '') ? params.get('stream') : 'demo';
  const session = params.get('session') || Math.random().toString(36).slice(2, 12);
  // A private stream's playback token (`&token=`, as `ringcast token` prints it) rides as a path prefix:
  // the master's variant and steering URIs carry it on, and relative URIs below them too.
  const token = /^[A-Za-z0-9._-]{1,256}$/.test(params.get('token') || '') ? params.get('token') : '';
  const playPath = `${token ? `/t/${token}` : ''}/live/${stream}/master.m3u8`;
  const masterUrl = `${location.origin}${playPath}?session=${encodeURIComponent(session)}`;
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const stats = {
    session,
    masterUrl,
    segments: [],
    stalls: 0,
    stallMs: 0,
    latencySec: null,
    maxLatencySec: null,
    /** One latency sample a second once playback is past its first 10 s. */
    latencySamples: [],
    pathway: null,
    rendition: null,
    bitrate: null,
    bufferSec: 0,
    lowLatency: false,
    errors: [],
    playing: false,
    /** LL-HLS: jumps back to the live sync position after a stall left playback more than 1 s behind target. */
    liveJumps: 0,
    /** Requests that failed without an HTTP answer and moved playback to the next relay at once. */
    relayFailovers: 0,
    /** Wall-clock time (ms) of the last such move. */
    lastRelayFailoverAt: null,
  };
  window.ringcastStats = stats;
  $('stream-name').textContent = `· ${stream}`;
  $('player-url').value = `${location.origin}${playPath}`;
  $('copy').onclick = () => navigator.clipboard?.writeText($('player-url').value);

  if (!window.Hls || !Hls.isSupported()) {
    // Safari plays HLS natively (and honours content steering itself).
    video.src = masterUrl;
    $('status').textContent = 'native HLS playback';
    return;
  }

  // hls.js lets liveSyncDuration (or liveSyncDurationCount) override PART-HOLD-BACK even in low-latency
  // mode, so the target latency is set only for standard playlists: look at the first variant first.
  const lowLatency = await isLowLatency(masterUrl);
  const latencyConfig = lowLatency
    ? // LL-HLS: play PART-HOLD-BACK (3 parts) behind the newest part; catch up at up to 1.2x (pitch
      // preserved), as measured best in FIELD-NOTES.
      { maxLiveSyncPlaybackRate: 1.2 }
    : // Standard HLS with 2 s segments: play 3 s behind the newest segment's end, which is about 4-5 s
      // behind the encoder (the newest segment is published when complete); play up to 1.5x to get back
      // there after a slow start or a stall, and jump when more than 6 s behind it (docs/player.md).
      { liveSyncDuration: 3, liveMaxLatencyDuration: 6, maxLiveSyncPlaybackRate: 1.5 };
  // A request that fails without an HTTP status (refused, reset) or times out means the relay is gone,
  // for every rendition. hls.js first answers such a failure by switching rendition on the same relay and
  // moves to the next pathway (relay) only on the next failure; in LL-HLS each rendition change reloads
  // the current segment from its independent part, so a relay kill cost two extra segment loads (down a
  // rendition and back up) against a buffer of about 0.6 s. Move to the next relay at once, keeping the
  // rendition (docs/player.md, Failover). hls.js's own names: actions DoNothing = 0 and
  // SendAlternateToPenaltyBox = 2, flag MoveAllAlternatesMatchingHost = 1.
  const DO_NOTHING = 0;
  const SEND_ALTERNATE_TO_PENALTY_BOX = 2;
  const MOVE_ALL_ALTERNATES_MATCHING_HOST = 1;
  const D = Hls.ErrorDetails;
  const relayUnreachable = (data) =>
    ((data.details === D.FRAG_LOAD_ERROR || data.details === D.LEVEL_LOAD_ERROR) &&
      !data.response?.code &&
      navigator.onLine !== false) ||
    data.details === D.FRAG_LOAD_TIMEOUT ||
    data.details === D.LEVEL_LOAD_TIMEOUT;
  const originOf = (url) => {
    try {
      return new URL(url, location.href).origin;
    } catch {
      return null;
    }
  };
  // hls.js keeps a pathway it moved away from out of use for 5 minutes (its own moves as well as these);
  // when every other relay is in that penalty box, moving cannot succeed (hls.js would call the error
  // fatal), so keep its own answer. `penalizedPathways` is hls.js's record, read when present.
  const PATHWAY_PENALTY_MS = 300_000;
  const leftAt = new Map();
  const penalizedSince = (pathway) =>
    Math.max(
      leftAt.get(pathway) ?? -Infinity,
      hls.levelController?.steering?.penalizedPathways?.[pathway] ?? -Infinity,
    );
  class RelayFailover extends Hls.DefaultConfig.errorController {
    getLevelSwitchAction(data, levelIndex) {
      const current = hls.levels[0];
      if (!relayUnreachable(data) || !current) return super.getLevelSwitchAction(data, levelIndex);
      // A request still open to a relay the page has already left failed with it: nothing to do here, the
      // page is loading from the new relay.
      const failed = originOf(data.context?.url ?? data.part?.url ?? data.frag?.url ?? '');
      if (failed && failed !== originOf(current.uri)) return { action: DO_NOTHING, flags: 0 };
      const now = performance.now();
      const elsewhere = (hls.pathwayPriority ?? hls.pathways).some(
        (p) => p !== current.pathwayId && !(now - penalizedSince(p) < PATHWAY_PENALTY_MS),
      );
      if (!elsewhere) return super.getLevelSwitchAction(data, levelIndex);
      leftAt.set(current.pathwayId, now);
      stats.relayFailovers++;
      stats.lastRelayFailoverAt = Date.now();
      return { action: SEND_ALTERNATE_TO_PENALTY_BOX, flags: MOVE_ALL_ALTERNATES_MATCHING_HOST };
    }
  }
  const hls = new Hls({
    ...latencyConfig,
    errorController: RelayFailover,
    // Parts, blocking playlist reloads and PART-HOLD-BACK when the playlists carry them.
    lowLatencyMode: true,
    backBufferLength: 30,
    // A dead relay refuses connections at once; fail fast so the next pathway takes over.
    fragLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 4000,
        maxLoadTimeMs: 8000,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 3, retryDelayMs: 100, maxRetryDelayMs: 1000 },
      },
    },
    // A hung relay (stopped, overloaded) accepts connections and never answers. hls.js gives a blocking
    // LL-HLS reload max(3 parts, 0.8 target durations) and then retries at once without blocking; a relay
    // that is alive answers that at once, so a second timeout (2 s) means the relay is gone and
    // RelayFailover moves on. hls.js's defaults (10 s, two retries) left an LL page stalled until the
    // coordinator's steering dropped the relay, about 5 s.
    playlistLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 2000,
        maxLoadTimeMs: 4000,
        timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 2, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
      },
    },
  });
  window.ringcastHls = hls;
  hls.loadSource(masterUrl);
  hls.attachMedia(video);

  const header = (details, name) => {
    try {
      return details?.getResponseHeader
        ? details.getResponseHeader(name)
        : (details?.headers?.get?.(name) ?? null);
    } catch {
      return null;
    }
  };
  hls.on(Hls.Events.FRAG_LOADED, (_e, data) => {
    const frag = data.frag;
    if (frag.sn === 'initSegment') return;
    const level = hls.levels[frag.level];
    const entry = {
      sn: frag.sn,
      part: data.part ? data.part.index : null,
      rendition: level ? `${level.height}p` : String(frag.level),
      relay: header(data.networkDetails, 'x-ringcast-relay') || new URL(frag.url).host,
      cache: header(data.networkDetails, 'x-ringcast-cache') || '?',
      ms: Math.round(frag.stats.loading.end - frag.stats.loading.start),
      at: Date.now(),
    };
    stats.segments.push(entry);
    if (stats.segments.length > 200) stats.segments.shift();
    const part = entry.part === null ? '' : `.${entry.part}`;
    // Relay id and cache state come from response headers: text only, never parsed as HTML.
    const cell = (text) => {
      const td = document.createElement('td');
      td.textContent = String(text);
      return td;
    };
    const cache = cell(entry.cache);
    // Only the styled states become a class name (player.css colours HIT, MISS, COALESCED).
    if (/^[A-Z]{1,16}$/.test(entry.cache)) cache.className = entry.cache;
    const row = document.createElement('tr');
    row.append(cell(`${entry.sn}${part}`), cell(entry.rendition), cell(entry.relay), cache, cell(entry.ms));
    $('segments').prepend(row);
    while ($('segments').children.length > 12) $('segments').lastChild.remove();
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
    const level = hls.levels[data.level];
    stats.rendition = level ? `${level.height}p` : null;
    stats.bitrate = level ? level.bitrate : null;
  });
  hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
    stats.lowLatency = Boolean(data.details.partList?.length);
  });
  hls.on(Hls.Events.ERROR, (_e, data) => {
    stats.errors.push({ type: data.type, details: data.details, fatal: data.fatal, at: Date.now() });
    if (stats.errors.length > 50) stats.errors.shift();
    if (data.fatal) {
      $('status').textContent = `error: ${data.details}; recovering`;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else setTimeout(() => hls.startLoad(), 1000);
    }
  });

  // A stall: the video wanted to play but ran out of data ('waiting' after playback had started).
  let stallStart = null;
  /** The page's own seek (jumpToLive) is in progress. */
  let ownSeek = false;
  /** A stall has just ended: jumpToLive may bring playback back near live once. */
  let afterStall = false;
  const startStall = () => {
    if (stats.playing && stallStart === null) {
      stallStart = performance.now();
      stats.stalls++;
    }
  };
  video.addEventListener('seeking', () => {
    // The viewer scrubbing (or pausing and seeking back) chose where to be: no jump to live after that.
    if (!ownSeek) afterStall = false;
  });
  video.addEventListener('seeked', () => {
    // A jump that landed where the video still cannot play is a stall ('waiting' was ignored during it).
    if (ownSeek && !video.paused && video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) startStall();
    ownSeek = false;
  });
  video.addEventListener('waiting', () => {
    // The page's own jump back to a buffered live position is not a stall.
    if (ownSeek && video.seeking) return;
    startStall();
  });
  video.addEventListener('playing', () => {
    stats.playing = true;
    if (stallStart !== null) {
      stats.stallMs += performance.now() - stallStart;
      stallStart = null;
      afterStall = true;
    }
    $('status').textContent = 'playing';
  });

  // LL-HLS: the first frames show a second or more after the start position was chosen (MSE setup,
  // first parts), and hls.js catches up at 1.2x only while more than 1 s is buffered, which a 3-part hold
  // back rarely allows: once, when the live sync position is already buffered, jump there. Later, hls.js
  // speeds up only while latency is within its target plus (target + one target duration); further
  // behind (a stall of seconds: a hung relay, a network outage) it treats playback as DVR and stays there
  // for good, and within it catching up on seconds at 1.2x takes ten seconds or more. So after a stall,
  // when more than 1 s behind target (hls.js has already added 1 s to its target for the stall) and the
  // live sync position is buffered, the page jumps there (standard HLS has liveMaxLatencyDuration for
  // this). Never while paused or after the viewer seeked: where to watch is theirs to choose.
  let startJumpDone = false;
  const jumpToLive = () => {
    const sync = hls.liveSyncPosition;
    const target = hls.targetLatency;
    const details = hls.latestLevelDetails;
    const latency = hls.latency;
    if (!stats.playing || video.paused || video.seeking || sync === null || target === null) return;
    if (!(latency > 0) || !details?.live || (startJumpDone && !afterStall)) return;
    const slack = startJumpDone ? 1 : 0.25;
    if (latency <= target + slack) {
      startJumpDone = true;
      afterStall = false;
      return;
    }
    const b = video.buffered;
    const last = b.length - 1;
    if (last >= 0 && b.start(last) <= sync && b.end(last) > sync + 0.2 && sync > video.currentTime) {
      ownSeek = true;
      video.currentTime = sync;
      if (startJumpDone) stats.liveJumps++;
      startJumpDone = true;
      afterStall = false;
    }
  };

  let lastSampleAt = 0;
  setInterval(() => {
    if (lowLatency) jumpToLive();
    const date = hls.playingDate;
    if (date && !video.paused) {
      stats.latencySec = (Date.now() - date.getTime()) / 1000;
      if (video.currentTime > 10) {
        stats.maxLatencySec = Math.max(stats.maxLatencySec ?? 0, stats.latencySec);
        if (Date.now() - lastSampleAt >= 1000) {
          lastSampleAt = Date.now();
          stats.latencySamples.push(stats.latencySec);
          if (stats.latencySamples.length > 600) stats.latencySamples.shift();
        }
      }
    }
    const b = video.buffered;
    stats.bufferSec = b.length ? Math.max(0, b.end(b.length - 1) - video.currentTime) : 0;
    const level = hls.levels[hls.currentLevel];
    stats.pathway = level ? level.pathwayId : null;
    const stalled = stallStart === null ? 0 : performance.now() - stallStart;
    $('latency').textContent = stats.latencySec === null ? '–' : `${stats.latencySec.toFixed(2)} s`;
    $('rendition').textContent = stats.rendition
      ? `${stats.rendition} · ${Math.round(stats.bitrate / 1000)} kb/s`
      : '–';
    $('buffer').textContent = `${stats.bufferSec.toFixed(1)} s`;
    $('stalls').textContent = `${stats.stalls} (${((stats.stallMs + stalled) / 1000).toFixed(2)} s)`;
    const failovers = stats.relayFailovers ? ` · ${stats.relayFailovers} relay failover(s)` : '';
    $('pathway').textContent = stats.pathway ? `${stats.pathway}${failovers}` : '–';
    $('ll').textContent = stats.lowLatency ? 'on (LL-HLS parts)' : 'off';
  }, 250);
})();
