import type { Block } from '../core/block.js';

/**
 * @default 256 — most blocks held whose parent is unknown (Bitcoin Core's
 * `MAX_ORPHAN_BLOCKS` of old, before headers-first sync made orphans rare).
 */
export const MAX_ORPHAN_BLOCKS = 256;
/**
 * @default 16 MiB — most bytes of orphan blocks held (their binary encoding;
 * the decoded objects take about five times as much heap). Sixteen full
 * blocks: room for the out-of-order arrivals of a sync, not for a flood.
 */
export const MAX_ORPHAN_BYTES = 16 * 1024 * 1024;
/**
 * @default 4 MiB — most bytes of orphan blocks held from one peer, so that
 * one peer cannot push out the orphans of the others (a sync from several
 * peers keeps its share when one of them floods).
 */
export const MAX_ORPHAN_BYTES_PER_PEER = 4 * 1024 * 1024;

/** Who an orphan came from when no peer sent it (the API, the local miner). */
export const LOCAL_SOURCE = 'local';

/** One orphan block and what is known of its arrival. */
export interface Orphan {
  hash: string;
  prevHash: string;
  block: Block;
  /** Encoded size, bytes. */
  size: number;
  /** Node id of the sender, or {@link LOCAL_SOURCE}. */
  source: string;
  /** Whether the node asked for it (part of a sync). */
  requested: boolean;
}

export interface OrphanPoolInit {
  /** @default {@link MAX_ORPHAN_BLOCKS} */
  maxBlocks?: number;
  /** @default {@link MAX_ORPHAN_BYTES} */
  maxBytes?: number;
  /** @default {@link MAX_ORPHAN_BYTES_PER_PEER} */
  maxBytesPerPeer?: number;
}

/** Outcome of {@link OrphanPool.add}: the hashes evicted to make room, or a refusal. */
export type OrphanAddResult = { added: true; evicted: string[] } | { added: false; reason: string };

/**
 * The orphan pool: blocks waiting for their parent, bounded in count and in
 * bytes, with a share per sending peer. A new orphan first evicts its own
 * sender's oldest orphans (beyond the sender's share, or when the pool is
 * full); only a sender with nothing left to give up makes room at the cost of
 * the peer holding the most bytes. So a flooding peer evicts itself, never the
 * honest orphans of a sync. Pure: no IO, no clock.
 */
export class OrphanPool {
  private readonly byHash = new Map<string, Orphan>();
  private readonly byPrev = new Map<string, Set<string>>();
  /** Per source, its orphans in arrival order (oldest first). */
  private readonly bySource = new Map<string, Map<string, Orphan>>();
  private readonly bytesOf = new Map<string, number>();
  private totalBytes = 0;
  private readonly maxBlocks: number;
  private readonly maxBytes: number;
  private readonly maxBytesPerPeer: number;

  constructor(init: OrphanPoolInit = {}) {
    this.maxBlocks = init.maxBlocks ?? MAX_ORPHAN_BLOCKS;
    this.maxBytes = init.maxBytes ?? MAX_ORPHAN_BYTES;
    this.maxBytesPerPeer = init.maxBytesPerPeer ?? MAX_ORPHAN_BYTES_PER_PEER;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Bytes held, all sources. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Bytes held from one source. */
  bytesFrom(source: string): number {
    return this.bytesOf.get(source) ?? 0;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  /** Adds an orphan (not already held), evicting as the class comment says. */
  add(o: Orphan): OrphanAddResult {
    if (this.byHash.has(o.hash)) return { added: false, reason: 'already held' };
    if (o.size > this.maxBytesPerPeer) return { added: false, reason: `block of ${o.size} bytes exceeds a peer's orphan share of ${this.maxBytesPerPeer}` };
    const evicted: string[] = [];
    const evictOldestOf = (source: string): boolean => {
      const first = this.bySource.get(source)?.values().next().value as Orphan | undefined;
      if (!first) return false;
      this.remove(first);
      evicted.push(first.hash);
      return true;
    };
    while (this.bytesFrom(o.source) + o.size > this.maxBytesPerPeer && evictOldestOf(o.source));
    while (this.totalBytes + o.size > this.maxBytes || this.byHash.size + 1 > this.maxBlocks) {
      if (evictOldestOf(o.source)) continue;
      let heaviest: string | undefined;
      for (const [source, bytes] of this.bytesOf) if (!heaviest || bytes > this.bytesOf.get(heaviest)!) heaviest = source;
      if (!heaviest || !evictOldestOf(heaviest)) break;
    }
    this.byHash.set(o.hash, o);
    let siblings = this.byPrev.get(o.prevHash);
    if (!siblings) this.byPrev.set(o.prevHash, (siblings = new Set()));
    siblings.add(o.hash);
    let mine = this.bySource.get(o.source);
    if (!mine) this.bySource.set(o.source, (mine = new Map()));
    mine.set(o.hash, o);
    this.bytesOf.set(o.source, this.bytesFrom(o.source) + o.size);
    this.totalBytes += o.size;
    return { added: true, evicted };
  }

  /** Removes and returns the orphans whose parent is `prevHash`. */
  takeChildrenOf(prevHash: string): Orphan[] {
    const hashes = this.byPrev.get(prevHash);
    if (!hashes) return [];
    const out = [...hashes].map((h) => this.byHash.get(h)!);
    for (const o of out) this.remove(o);
    return out;
  }

  private remove(o: Orphan): void {
    this.byHash.delete(o.hash);
    const siblings = this.byPrev.get(o.prevHash);
    siblings?.delete(o.hash);
    if (siblings?.size === 0) this.byPrev.delete(o.prevHash);
    const mine = this.bySource.get(o.source);
    mine?.delete(o.hash);
    if (mine?.size === 0) this.bySource.delete(o.source);
    const left = this.bytesFrom(o.source) - o.size;
    if (left > 0) this.bytesOf.set(o.source, left);
    else this.bytesOf.delete(o.source);
    this.totalBytes -= o.size;
  }
}
