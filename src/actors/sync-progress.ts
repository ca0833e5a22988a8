/**
 * Progress of a node catching up with its peers (at least
 * {@link SYNC_MIN_BLOCKS_BEHIND} blocks behind the best height a peer claims), as a pure state machine fed
 * the time: the gossip actor samples its height and the best height its peers
 * claim, and publishes what {@link SyncProgress.sample} returns.
 */

/** @default 1000 — least time between two progress reports while syncing, ms. */
export const SYNC_PROGRESS_INTERVAL_MS = 1_000;
/** @default 10 — blocks behind the best claimed height from which the node counts as syncing (a new block or two is ordinary relay, not sync). */
export const SYNC_MIN_BLOCKS_BEHIND = 10;
/** @default 10_000 — the window the block rate is measured over, ms. */
export const SYNC_RATE_WINDOW_MS = 10_000;

/**
 * The node's sync progress, published on the bus while it is behind its
 * peers (every {@link SYNC_PROGRESS_INTERVAL_MS}) and once when it has caught
 * up (`done: true`).
 */
export interface SyncProgressEvent {
  type: 'sync-progress';
  /** Height of the node's tip. */
  height: number;
  /** Best height announced by a peer (HELLO, BROADCASTBLOCK); the node's own height when it is higher. */
  targetHeight: number;
  /** Blocks connected per second over the last {@link SYNC_RATE_WINDOW_MS}. */
  blocksPerSecond: number;
  /** Estimated time to reach `targetHeight` at that rate, seconds; undefined when no block was connected in the window. */
  secondsLeft: number | undefined;
  /** True when the node has reached `targetHeight`. */
  done: boolean;
}

/** Samples height over time and decides when a progress report is due. */
export class SyncProgress {
  private readonly samples: Array<{ at: number; height: number }> = [];
  private lastReportAt = -Infinity;
  private syncing = false;
  private target = 0;

  constructor(
    private readonly intervalMs: number = SYNC_PROGRESS_INTERVAL_MS,
    private readonly windowMs: number = SYNC_RATE_WINDOW_MS,
    private readonly minBehind: number = SYNC_MIN_BLOCKS_BEHIND,
  ) {}

  /** A peer claims a chain of `height` blocks. */
  claim(height: number): void {
    if (height > this.target) this.target = height;
  }

  /**
   * Records the node's `height` at `now` (ms) and returns the report due, if
   * any: one per interval while behind the target, one `done` report when
   * the target is reached after being behind.
   */
  sample(now: number, height: number): SyncProgressEvent | undefined {
    this.samples.push({ at: now, height });
    while (this.samples.length > 2 && now - this.samples[0]!.at > this.windowMs) this.samples.shift();
    const target = Math.max(this.target, height);
    if (height >= target) {
      if (!this.syncing) return undefined;
      this.syncing = false;
      return this.report(now, height, target, true);
    }
    if (!this.syncing) {
      if (target - height < this.minBehind) return undefined;
      this.syncing = true;
      // The first report waits one interval, so that the rate has something to measure.
      this.lastReportAt = now;
      return undefined;
    }
    if (now - this.lastReportAt < this.intervalMs) return undefined;
    return this.report(now, height, target, false);
  }

  private report(now: number, height: number, target: number, done: boolean): SyncProgressEvent {
    this.lastReportAt = now;
    const first = this.samples[0]!;
    const span = now - first.at;
    const blocksPerSecond = span > 0 ? ((height - first.height) * 1000) / span : 0;
    const secondsLeft = done ? 0 : blocksPerSecond > 0 ? (target - height) / blocksPerSecond : undefined;
    return { type: 'sync-progress', height, targetHeight: target, blocksPerSecond, secondsLeft, done };
  }
}
