/** Most blocks requested from one peer at once. */
export const MAX_BLOCKS_IN_FLIGHT_PER_PEER = 16;
/** Most blocks requested from all peers at once (keeps the orphan pool small during sync). */
export const MAX_BLOCKS_IN_FLIGHT = 128;
/** A block request unanswered this long goes to another peer, ms. */
export const BLOCK_STALL_TIMEOUT_MS = 5_000;
/** A wanted block is forgotten after this many stalled requests. */
export const MAX_BLOCK_REQUESTS = 5;
/**
 * Most wanted blocks one peer may be the source of: two full LISTOFBLOCKS
 * (2 × 2,000). What a peer announces beyond it is ignored until downloads
 * free room, so a peer announcing random hashes cannot grow the table.
 */
export const MAX_WANTED_PER_PEER = 4_000;
/** Most wanted blocks in all (a few peers' worth of lists). */
export const MAX_WANTED = 16_000;
/**
 * Largest factor {@link BlockFetcher.setInFlightScale} may raise both
 * in-flight limits by (16 × 32 = 512 blocks from one peer): when blocks are
 * small, as in an initial sync of a quiet chain, 16 at a time make sync a
 * matter of round trips and of one store commit per 16 blocks.
 */
export const MAX_IN_FLIGHT_SCALE = 32;

/** One GETBLOCK to send: ask `peer` (a node id) for the block `hash` (hex). */
export interface BlockRequest {
  readonly hash: string;
  readonly peer: string;
}

/** Limits of a {@link BlockFetcher}; every field defaults to the constant named in its doc. */
export interface BlockFetcherInit {
  /** Most blocks requested from one peer at once. @default {@link MAX_BLOCKS_IN_FLIGHT_PER_PEER} */
  maxInFlightPerPeer?: number;
  /** Most blocks requested from all peers at once. @default {@link MAX_BLOCKS_IN_FLIGHT} */
  maxInFlight?: number;
  /** A request unanswered this long is stalled, ms. @default {@link BLOCK_STALL_TIMEOUT_MS} */
  stallTimeoutMs?: number;
  /** Stalled requests after which a wanted block is forgotten. @default {@link MAX_BLOCK_REQUESTS} */
  maxRequests?: number;
  /** Most wanted blocks one peer may be a source of. @default {@link MAX_WANTED_PER_PEER} */
  maxWantedPerPeer?: number;
  /** Most wanted blocks in all. @default {@link MAX_WANTED} */
  maxWanted?: number;
}

/** What {@link BlockFetcher.removePeer} changed. */
export interface PeerRemoved {
  /** Requests to send now: the departed peer's outstanding blocks, handed to others. */
  readonly requests: BlockRequest[];
  /** Wanted blocks forgotten because the departed peer was their only known source. */
  readonly forgotten: number;
}

/**
 * The block download scheduler of the gossip actor, as a pure state machine
 * (the shape of ethereumjs' `sync/fetcher` and lodestar's `sync/range`): it
 * remembers which blocks are wanted and which connected peers are known to
 * have each, hands them out oldest first to the least busy source within
 * per-peer and total in-flight limits, and moves a request that stalls to
 * another peer. It does no IO and reads no clock: every call that can start
 * requests takes the current time (ms, any monotonic origin) and returns the
 * GETBLOCK requests to send, which the caller must send.
 *
 * The table is bounded: a peer is the source of at most `maxWantedPerPeer`
 * wanted blocks and at most `maxWanted` are wanted in all; announcements past
 * either cap are ignored (and counted in {@link BlockFetcher.ignored}).
 *
 * A block is in flight from at most one peer at a time. A block whose every
 * known source left, answered not-found, or stalled {@link BlockFetcherInit.maxRequests}
 * times is forgotten; a later announcement or sync wants it again.
 */
export class BlockFetcher {
  /** Wanted block → the peers known to have it; Map order is the order learnt (oldest first). */
  private readonly wanted = new Map<string, Set<string>>();
  /** Stalled requests per wanted block. */
  private readonly stalls = new Map<string, number>();
  /** Connected peer → its outstanding requests (block → when requested, ms), in request order. */
  private readonly peers = new Map<string, Map<string, number>>();
  /** Block in flight → the peer it was requested from. */
  private readonly requestedFrom = new Map<string, string>();
  /** Peer → how many wanted blocks it is a source of. */
  private readonly sourceCounts = new Map<string, number>();
  private ignoredCount = 0;
  private readonly maxWantedPerPeer: number;
  private readonly maxWanted: number;
  private readonly maxInFlightPerPeer: number;
  private readonly maxInFlight: number;
  private scale = 1;
  private readonly stallTimeoutMs: number;
  private readonly maxRequests: number;

  /** @throws RangeError when a limit is not a positive integer. */
  constructor(init: BlockFetcherInit = {}) {
    this.maxInFlightPerPeer = positive('maxInFlightPerPeer', init.maxInFlightPerPeer ?? MAX_BLOCKS_IN_FLIGHT_PER_PEER);
    this.maxInFlight = positive('maxInFlight', init.maxInFlight ?? MAX_BLOCKS_IN_FLIGHT);
    this.stallTimeoutMs = positive('stallTimeoutMs', init.stallTimeoutMs ?? BLOCK_STALL_TIMEOUT_MS);
    this.maxRequests = positive('maxRequests', init.maxRequests ?? MAX_BLOCK_REQUESTS);
    this.maxWantedPerPeer = positive('maxWantedPerPeer', init.maxWantedPerPeer ?? MAX_WANTED_PER_PEER);
    this.maxWanted = positive('maxWanted', init.maxWanted ?? MAX_WANTED);
  }

  /** Announced blocks ignored because a cap was reached, since the start. */
  get ignored(): number {
    return this.ignoredCount;
  }

  /** How many wanted blocks `peer` is a source of. */
  wantedFrom(peer: string): number {
    return this.sourceCounts.get(peer) ?? 0;
  }

  /** Wanted blocks (in flight or waiting). */
  get wantedCount(): number {
    return this.wanted.size;
  }

  /**
   * Multiplies the per-peer and total in-flight limits by `factor` (an
   * integer from 1 to {@link MAX_IN_FLIGHT_SCALE}): the caller raises it
   * when the blocks it receives are small, so that the bytes in flight stay
   * within what the unscaled limits allow for blocks of the largest size.
   * Requests already made stay in flight when the factor falls.
   * @throws RangeError when `factor` is not such an integer.
   */
  setInFlightScale(factor: number): void {
    if (!Number.isInteger(factor) || factor < 1 || factor > MAX_IN_FLIGHT_SCALE) throw new RangeError(`in-flight scale must be an integer from 1 to ${MAX_IN_FLIGHT_SCALE}`);
    this.scale = factor;
  }

  /** The in-flight limits now: per peer and in all, scaled by {@link setInFlightScale}. */
  get inFlightLimits(): { perPeer: number; total: number } {
    return { perPeer: this.maxInFlightPerPeer * this.scale, total: this.maxInFlight * this.scale };
  }

  /** Blocks in flight from all peers. */
  get inFlightCount(): number {
    return this.requestedFrom.size;
  }

  /** Whether `hash` is wanted (in flight or waiting). */
  isWanted(hash: string): boolean {
    return this.wanted.has(hash);
  }

  /** The peers known to have the wanted block `hash`, in the order learnt; empty when it is not wanted. */
  sourcesOf(hash: string): string[] {
    return [...(this.wanted.get(hash) ?? [])];
  }

  /** The peer `hash` is requested from, when it is in flight. */
  requestedPeer(hash: string): string | undefined {
    return this.requestedFrom.get(hash);
  }

  /** Blocks in flight from `peer`, oldest request first. */
  inFlightOf(peer: string): string[] {
    return [...(this.peers.get(peer)?.keys() ?? [])];
  }

  /** A peer connected: it may be asked for blocks. Adding a known peer changes nothing. */
  addPeer(peer: string): void {
    if (!this.peers.has(peer)) this.peers.set(peer, new Map());
  }

  /**
   * A peer left: it stops being a source of every block, blocks it alone had
   * are forgotten, and its outstanding requests go to other peers at once.
   */
  removePeer(peer: string, now: number): PeerRemoved {
    const inFlight = this.peers.get(peer);
    if (!inFlight) return { requests: [], forgotten: 0 };
    this.peers.delete(peer);
    for (const hash of inFlight.keys()) this.requestedFrom.delete(hash);
    const before = this.wanted.size;
    for (const hash of [...this.wanted.keys()]) this.dropSource(hash, peer);
    const requests = inFlight.size > 0 ? this.schedule(now) : [];
    return { requests, forgotten: before - this.wanted.size };
  }

  /**
   * `peer` has the blocks `hashes` (it announced or listed them): they are
   * wanted, oldest first, and the ones the limits allow are requested now.
   */
  want(hashes: readonly string[], peer: string, now: number): BlockRequest[] {
    for (const h of hashes) {
      let sources = this.wanted.get(h);
      if (sources?.has(peer)) continue;
      if (this.wantedFrom(peer) >= this.maxWantedPerPeer || (!sources && this.wanted.size >= this.maxWanted)) {
        this.ignoredCount++;
        continue;
      }
      if (!sources) this.wanted.set(h, (sources = new Set()));
      this.addSource(sources, peer);
    }
    return hashes.length > 0 ? this.schedule(now) : [];
  }

  /**
   * The block `hash` arrived from `peer`: it is no longer wanted, and no
   * longer in flight from `peer`. Call {@link schedule} once the block is
   * handled to fill the freed slot.
   */
  onBlock(hash: string, peer: string): void {
    if (this.peers.get(peer)?.delete(hash)) this.requestedFrom.delete(hash);
    this.forget(hash);
  }

  /**
   * `peer` answered a request for `hash` with not-found: it stops being a
   * source of that block and the block goes to another source. A not-found
   * for a block not requested from `peer` changes nothing.
   */
  onNotFound(hash: string, peer: string, now: number): BlockRequest[] {
    if (!this.peers.get(peer)?.delete(hash)) return [];
    this.requestedFrom.delete(hash);
    this.dropSource(hash, peer);
    return this.schedule(now);
  }

  /**
   * Housekeeping at time `now`: requests older than the stall timeout are
   * withdrawn. A block stalled {@link BlockFetcherInit.maxRequests} times is
   * forgotten; otherwise the stalling peer stops being its source when
   * another is known (when none is, every connected peer becomes a source).
   * A peer that stalled stops being a source of every block another peer
   * can send. Then wanted blocks are scheduled.
   */
  onTick(now: number): BlockRequest[] {
    let stalled = false;
    for (const [peer, inFlight] of this.peers) {
      let peerStalled = false;
      for (const [hash, at] of inFlight) {
        if (now - at < this.stallTimeoutMs) continue;
        peerStalled = true;
        stalled = true;
        inFlight.delete(hash);
        this.requestedFrom.delete(hash);
        // Delivered meanwhile by another peer: nothing to count.
        if (!this.wanted.has(hash)) continue;
        const stalls = (this.stalls.get(hash) ?? 0) + 1;
        this.stalls.set(hash, stalls);
        if (stalls >= this.maxRequests) {
          this.forget(hash);
          continue;
        }
        const sources = this.wanted.get(hash);
        if (sources && sources.size > 1) this.removeSource(sources, peer);
        else if (sources) for (const other of this.peers.keys()) if (!sources.has(other) && this.wantedFrom(other) < this.maxWantedPerPeer) this.addSource(sources, other);
      }
      if (peerStalled) for (const sources of this.wanted.values()) if (sources.size > 1) this.removeSource(sources, peer);
    }
    return stalled || this.wanted.size > 0 ? this.schedule(now) : [];
  }

  /**
   * Hands wanted blocks that are not in flight to connected sources, oldest
   * block first, each to its source with the fewest requests outstanding
   * (the first learnt on a tie), until the per-peer or total limit is
   * reached. Records each request as made at `now` (ms).
   */
  schedule(now: number): BlockRequest[] {
    const requests: BlockRequest[] = [];
    const { perPeer, total } = this.inFlightLimits;
    // Nothing to hand out when every peer is busy: the walk below would visit every wanted block for nothing.
    let room = false;
    for (const inFlight of this.peers.values()) if (inFlight.size < perPeer) room = true;
    if (!room) return requests;
    for (const [hash, sources] of this.wanted) {
      if (this.requestedFrom.size >= total) break;
      if (this.requestedFrom.has(hash)) continue;
      let best: string | undefined;
      let bestLoad = Infinity;
      for (const id of sources) {
        const load = this.peers.get(id)?.size;
        if (load !== undefined && load < perPeer && load < bestLoad) {
          best = id;
          bestLoad = load;
        }
      }
      if (best === undefined) continue;
      this.peers.get(best)?.set(hash, now);
      this.requestedFrom.set(hash, best);
      requests.push({ hash, peer: best });
    }
    return requests;
  }

  /** Forgets that `peer` has `hash`; a block nobody is known to have is no longer wanted. */
  private dropSource(hash: string, peer: string): void {
    const sources = this.wanted.get(hash);
    if (!sources) return;
    this.removeSource(sources, peer);
    if (sources.size === 0) {
      this.wanted.delete(hash);
      this.stalls.delete(hash);
    }
  }

  /** The block is no longer wanted: its sources stop counting it. */
  private forget(hash: string): void {
    const sources = this.wanted.get(hash);
    if (sources) for (const p of [...sources]) this.removeSource(sources, p);
    this.wanted.delete(hash);
    this.stalls.delete(hash);
  }

  private addSource(sources: Set<string>, peer: string): void {
    if (sources.has(peer)) return;
    sources.add(peer);
    this.sourceCounts.set(peer, this.wantedFrom(peer) + 1);
  }

  private removeSource(sources: Set<string>, peer: string): void {
    if (!sources.delete(peer)) return;
    const n = this.wantedFrom(peer) - 1;
    if (n > 0) this.sourceCounts.set(peer, n);
    else this.sourceCounts.delete(peer);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${name} must be a positive integer`);
  return value;
}
